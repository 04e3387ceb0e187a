"""Pods bound to the virtual node run on the provider and report honest statuses; deletes wait for the provider."""

from __future__ import annotations

from typing import Any

from integration.stack_fixtures import MOCK, Stack, wait_for


def _state(pod: dict[str, Any], container: str = "main") -> dict[str, Any]:
    for status in pod["status"].get("containerStatuses", []):
        if status["name"] == container:
            return dict(status["state"])
    return {}


def test_a_hundred_pods_reach_running_with_correct_statuses(stack: Stack) -> None:
    names = [f"many-{i}" for i in range(100)]
    for name in names:
        stack.create_pod(name)

    def all_ready() -> list[dict[str, Any]] | None:
        pods = stack.pods()
        ready = [
            p
            for p in pods
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        return pods if len(ready) == len(names) else None

    pods = wait_for("100 pods to be Ready", all_ready, timeout=120, interval=0.5)

    for pod in pods:
        status = pod["status"]
        assert status["phase"] == "Running"
        assert status["podIP"]
        assert status["podIP"] != "127.0.0.1"
        assert status["hostIP"] == "127.0.0.1"
        assert status["startTime"]
        assert "running" in _state(pod)
        conditions = {c["type"]: c["status"] for c in status["conditions"]}
        assert conditions == {
            "PodReadyToStartContainers": "True",
            "Initialized": "True",
            "Ready": "True",
            "ContainersReady": "True",
            "PodScheduled": "True",
        }
    backend = stack.backend_with_exactly({pod["metadata"]["uid"] for pod in pods})
    assert len(backend["creates"]) == 100
    assert set(backend["creates"].values()) == {1}


def test_exit_codes_decide_the_phase_under_restart_policy_never(stack: Stack) -> None:
    stack.create_pod("ok", command=["sh", "-c", "echo done; exit 0"], restart_policy="Never")
    stack.create_pod("broken", command=["sh", "-c", "echo failing; exit 1"], restart_policy="Never")

    succeeded = stack.wait_phase("ok", "Succeeded")
    failed = stack.wait_phase("broken", "Failed")

    assert _state(succeeded)["terminated"]["exitCode"] == 0
    assert _state(failed)["terminated"]["exitCode"] == 1
    assert _state(failed)["terminated"]["reason"] == "Error"


def test_a_finished_pod_keeps_its_terminal_phase(stack: Stack) -> None:
    stack.create_pod("once", command=["sh", "-c", "exit 0"], restart_policy="OnFailure")
    stack.wait_phase("once", "Succeeded")
    uid = stack.must_pod("once")["metadata"]["uid"]

    stack.controller.process.kill()
    stack.restart_controller()

    wait_for("the controller to be back", lambda: stack.node_condition().get("status") == "True", timeout=30)
    assert stack.must_pod("once")["status"]["phase"] == "Succeeded"
    assert stack.backend()["creates"][uid] == 1


def test_graceful_delete_removes_the_pod_only_after_the_provider_confirms(stack: Stack) -> None:
    stack.create_pod("graceful", terminationGracePeriodSeconds=2)
    stack.wait_ready_pod("graceful")
    uid = stack.must_pod("graceful")["metadata"]["uid"]

    stack.plane.rest.delete(f"/api/v1/namespaces/{stack.namespace}/pods/graceful")
    terminating = stack.pod("graceful")

    assert terminating is not None
    assert terminating["metadata"]["deletionTimestamp"]
    wait_for("the pod object to be removed", lambda: stack.pod("graceful") is None, timeout=30)
    assert uid not in stack.backend()["pods"], "the object went away while the provider still had the pod"


def test_force_delete_removes_the_pod_from_the_provider(stack: Stack) -> None:
    stack.create_pod("forced")
    stack.wait_ready_pod("forced")
    uid = stack.must_pod("forced")["metadata"]["uid"]

    stack.plane.kubectl("delete", "pod", "forced", "-n", stack.namespace, "--force", "--grace-period=0")

    assert stack.pod("forced") is None
    wait_for("the provider to drop the pod", lambda: uid not in stack.backend()["pods"], timeout=30)


def test_a_failed_create_fails_the_pod_with_the_reason_and_an_event(stack: Stack) -> None:
    stack.create_pod("refused", annotations={MOCK + "fail-create": "QuotaExceeded: no capacity left in the region"})

    failed = stack.wait_phase("refused", "Failed")

    assert failed["status"]["reason"] == "QuotaExceeded"
    assert failed["status"]["message"] == "no capacity left in the region"
    events = wait_for(
        "the Event", lambda: [e for e in stack.events_for("refused") if e["reason"] == "QuotaExceeded"], timeout=15
    )
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == "no capacity left in the region"


def test_spec_a_virtual_node_cannot_honour_is_refused(stack: Stack) -> None:
    stack.create_pod("host-networked", hostNetwork=True)

    failed = stack.wait_phase("host-networked", "Failed")

    assert failed["status"]["reason"] == "UnsupportedPodSpec"
    assert "spec.hostNetwork" in failed["status"]["message"]
    wait_for(
        "the Event",
        lambda: [e for e in stack.events_for("host-networked") if e["reason"] == "UnsupportedPodSpec"],
        timeout=15,
    )


def test_a_missing_config_map_holds_the_pod_until_it_appears(stack: Stack) -> None:
    stack.plane.rest.create(
        f"/api/v1/namespaces/{stack.namespace}/pods",
        {
            "metadata": {"name": "needs-config"},
            "spec": {
                "nodeName": stack.node,
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox:1.36",
                        "env": [
                            {
                                "name": "GREETING",
                                "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}},
                            }
                        ],
                    }
                ],
            },
        },
    )

    def waiting_reason() -> str | None:
        pod = stack.pod("needs-config")
        return _state(pod).get("waiting", {}).get("reason") if pod else None

    assert wait_for(
        "the container to wait on its config", lambda: waiting_reason() == "CreateContainerConfigError", timeout=30
    )
    assert stack.must_pod("needs-config")["status"]["phase"] == "Pending"
    stack.plane.rest.create(
        f"/api/v1/namespaces/{stack.namespace}/configmaps",
        {"metadata": {"name": "settings"}, "data": {"greeting": "hi"}},
    )
    stack.wait_ready_pod("needs-config")


def test_active_deadline_fails_the_pod_and_stops_it_on_the_provider(stack: Stack) -> None:
    stack.create_pod("deadline", activeDeadlineSeconds=2)
    stack.wait_ready_pod("deadline")
    uid = stack.must_pod("deadline")["metadata"]["uid"]

    failed = stack.wait_phase("deadline", "Failed", timeout=30)

    assert failed["status"]["reason"] == "DeadlineExceeded"
    assert "deadline" in failed["status"]["message"]
    wait_for("the provider to stop the pod", lambda: uid not in stack.backend()["pods"], timeout=30)


def test_kubectl_debug_gets_a_clear_refusal(stack: Stack) -> None:
    stack.create_pod("debugged")
    stack.wait_ready_pod("debugged")

    stack.plane.kubectl(
        "debug", "debugged", "-n", stack.namespace, "--image=busybox:1.36", "--container=dbg", "--", "true"
    )

    def refused() -> dict[str, Any] | None:
        statuses = stack.must_pod("debugged")["status"].get("ephemeralContainerStatuses") or []
        return statuses[0] if statuses else None

    status = wait_for("the ephemeral container's status", refused, timeout=30)
    assert status["state"]["terminated"]["reason"] == "EphemeralContainersNotSupported"
    assert "kubectl debug is not supported" in status["state"]["terminated"]["message"]
    assert stack.must_pod("debugged")["status"]["phase"] == "Running", "the pod itself keeps running"
    wait_for(
        "the Event",
        lambda: [e for e in stack.events_for("debugged") if e["reason"] == "EphemeralContainersNotSupported"],
        timeout=15,
    )

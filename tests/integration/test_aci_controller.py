"""The whole product on ACI: vk-controller (its own node identity, the session's real kube-apiserver) driving
vk-provider-aci over gRPC, which drives the ARM stand-in (``arm_standin.py``). Pods keep the ``kube-api-access``
volume the API server adds, which the provider delivers as an ACI secret volume.

Proves: pods reach Running with their container group's IP as pod IP; a container exiting 1 fails its pod with that
exit code (restartPolicy Never); deleting a pod deletes its container group; a provisioning failure becomes a Failed
pod carrying ARM's code and message, with an Event; ``kubectl exec`` runs over ACI's exec WebSocket, and since ACI
reports no exit code, kubectl prints the output and then fails with the controller's "exit status unknown" error.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.arm_standin import RunningStandIn, arm_standin
from integration.stack_fixtures import Stack, controller_stack, wait_for
from vk_harness import ControlPlane
from vk_harness.processes import Process, free_port
from vk_harness.stack import ProviderProcess

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandIn]:
    with arm_standin(tmp_path_factory.mktemp("arm")) as running:
        yield running


def _script(standin: RunningStandIn, pod: str, **script: Any) -> None:
    """Script what the container group of ``pod`` (``namespace/name``) does once provisioned."""
    body = json.dumps({"pod": pod, "stdout_lines": [], "exit_code": None, **script}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        standin.control + "/script", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
        pass


def _start_aci_provider(standin: RunningStandIn, workdir: Path) -> ProviderProcess:
    address = f"127.0.0.1:{free_port()}"
    executable = str(Path(sys.executable).parent / "vk-provider-aci")
    process = Process(
        "aci-provider",
        [executable, "--listen", address, *standin.provider_args()],
        log_path=workdir / "aci-provider.log",
        env={**os.environ, **standin.environment()},
    )
    process.start()
    provider = ProviderProcess(process=process, address=address, state_file=None)
    provider.wait_ready()
    return provider


@pytest.fixture
def aci(
    control_plane: ControlPlane, standin: RunningStandIn, tmp_path: Path, namespace: str, node_name: str
) -> Iterator[Stack]:
    """vk-provider-aci on the stand-in and vk-controller on it, once the node is Ready."""
    provider = _start_aci_provider(standin, tmp_path)
    try:
        with controller_stack(control_plane, tmp_path, namespace, node_name, provider) as running:
            yield running
    finally:
        provider.process.stop()


def _create_pod(
    stack: Stack, name: str, *, restart_policy: str = "Never", ports: list[int] | None = None
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": "busybox:1.36",
        "command": ["sleep", "3600"],
        "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}},
    }
    if ports:
        container["ports"] = [{"containerPort": port, "protocol": "TCP"} for port in ports]
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": stack.node, "restartPolicy": restart_policy, "containers": [container]},
    }
    created: dict[str, Any] = stack.plane.rest.create(f"/api/v1/namespaces/{stack.namespace}/pods", body)
    return created


def _main_state(pod: dict[str, Any]) -> dict[str, Any]:
    for status in pod["status"].get("containerStatuses", []):
        if status["name"] == "main":
            return dict(status["state"])
    return {}


def _group(standin: RunningStandIn, uid: str) -> dict[str, Any]:
    group = standin.state.group_of(uid)
    assert group is not None, f"no container group for pod {uid}"
    return group.body


def _logs(stack: Stack) -> str:
    return f"\ncontroller:\n{stack.controller.process.log_tail()}\nprovider:\n{stack.provider.process.log_tail()}"


def test_pods_run_with_the_group_ip_and_the_service_account_volume(aci: Stack, standin: RunningStandIn) -> None:
    names = ["web-0", "web-1"]
    created = {name: _create_pod(aci, name, ports=[8080]) for name in names}
    for name in names:
        # the API server added the projected kube-api-access volume; it is kept
        volumes = created[name]["spec"]["volumes"]
        assert [v["name"] for v in volumes if v["name"].startswith("kube-api-access-")], volumes

    pods = {name: aci.wait_ready_pod(name, timeout=45) for name in names}

    ips = set()
    for name, pod in pods.items():
        status = pod["status"]
        uid = pod["metadata"]["uid"]
        group = _group(standin, uid)
        group_ip = group["properties"]["ipAddress"]["ip"]
        assert status["phase"] == "Running", status
        assert status["podIP"] == group_ip, (status, group_ip)
        assert status["podIPs"] == [{"ip": group_ip}]
        assert "running" in _main_state(pod)
        ips.add(group_ip)

        tags = group["tags"]
        assert (tags["vk.node"], tags["vk.namespace"], tags["vk.name"]) == (aci.node, aci.namespace, name)
        # kube-api-access became an ACI secret volume holding the token, the CA and the namespace, mounted read-only
        (access,) = [v for v in group["properties"]["volumes"] if v["name"].startswith("kube-api-access-")]
        files = {key: base64.b64decode(value) for key, value in access["secret"].items()}
        assert set(files) == {"token", "ca.crt", "namespace"}, set(files)
        assert files["namespace"].decode() == aci.namespace
        assert files["token"].count(b".") == 2  # a JWT from the TokenRequest API
        assert b"BEGIN CERTIFICATE" in files["ca.crt"]
        (container,) = group["properties"]["containers"]
        mounts = {m["name"]: m for m in container["properties"].get("volumeMounts", [])}
        assert mounts[access["name"]]["mountPath"] == SERVICE_ACCOUNT_DIR
        assert mounts[access["name"]].get("readOnly") is True
    assert len(ips) == len(names), ips  # one IP per group
    assert not standin.state.violations, standin.state.violations


def test_a_container_exiting_1_fails_the_pod_with_its_exit_code(aci: Stack, standin: RunningStandIn) -> None:
    _script(standin, f"{aci.namespace}/exits-1", exit_code=1)
    _create_pod(aci, "exits-1", restart_policy="Never")

    pod = aci.wait_phase("exits-1", "Failed", timeout=45)

    terminated = _main_state(pod)["terminated"]
    assert terminated["exitCode"] == 1, pod["status"]
    assert terminated["reason"] == "Error"
    group = _group(standin, pod["metadata"]["uid"])
    assert group["properties"]["restartPolicy"] == "Never"
    events = wait_for(
        "the pod's failure Event",
        lambda: [e for e in aci.events_for("exits-1") if e["type"] == "Warning"],
        timeout=15,
        describe=lambda: json.dumps(aci.events_for("exits-1"))[:2000],
    )
    assert any("main exited with code 1" in e["message"] for e in events), events


def test_deleting_the_pod_deletes_its_container_group(aci: Stack, standin: RunningStandIn) -> None:
    _create_pod(aci, "doomed", restart_policy="Always")
    pod = aci.wait_ready_pod("doomed", timeout=45)
    uid = pod["metadata"]["uid"]
    assert standin.state.group_of(uid) is not None
    deletes = standin.state.counts["delete"]

    aci.plane.rest.delete(f"/api/v1/namespaces/{aci.namespace}/pods/doomed")

    wait_for(
        "the container group to be deleted",
        lambda: standin.state.group_of(uid) is None,
        timeout=30,
        describe=lambda: _logs(aci),
    )
    wait_for("the pod object to be removed", lambda: aci.pod("doomed") is None, timeout=30, describe=lambda: _logs(aci))
    assert standin.state.counts["delete"] > deletes


def test_a_provisioning_failure_fails_the_pod_with_arm_s_message_and_an_event(
    aci: Stack, standin: RunningStandIn
) -> None:
    message = "The image 'busybox:1.36' in container group 'unlucky' is not accessible."
    _script(
        standin,
        f"{aci.namespace}/unlucky",
        fail={"code": "InaccessibleImage", "message": message},
    )
    _create_pod(aci, "unlucky", restart_policy="Always")

    pod = aci.wait_phase("unlucky", "Failed", timeout=45)

    status = pod["status"]
    assert status["reason"] == "InaccessibleImage", (status, _logs(aci))
    assert message in status["message"], status
    events = wait_for(
        "the pod's failure Event",
        lambda: [e for e in aci.events_for("unlucky") if e["type"] == "Warning" and e["reason"] == "InaccessibleImage"],
        timeout=15,
        describe=lambda: json.dumps(aci.events_for("unlucky"))[:2000],
    )
    assert any(message in e["message"] for e in events), events


#: What kubectl prints (and exits 1 with) when the provider reports no exit code: the controller ends the session
#: with a Failure status (reason InternalError, code 500, no ExitCode cause), which kubectl shows as an error.
UNKNOWN_EXIT_ERROR = (
    "error: Internal error occurred: the exit status of the command is unknown: the provider cannot report exit "
    "codes (ExitCodeNotReported: Azure Container Instances does not report the exit codes of exec commands)"
)


def test_kubectl_exec_prints_the_output_and_says_the_exit_status_is_unknown(
    aci: Stack, standin: RunningStandIn
) -> None:
    _create_pod(aci, "shell", restart_policy="Always")
    aci.wait_ready_pod("shell", timeout=45)
    sessions = len(standin.state.exec_log)

    result = aci.plane.kubectl("exec", "-n", aci.namespace, "shell", "--", "echo", "hi", check=False)

    assert result.stdout == "hi\n", (result, _logs(aci))
    # Even a command that succeeded: the controller never reports success for an unknown exit status.
    assert result.returncode == 1, (result, _logs(aci))
    assert result.stderr.strip() == UNKNOWN_EXIT_ERROR, result.stderr
    session = standin.state.exec_log[sessions]
    assert (session.container, session.command) == ("main", "echo hi")

    # stdin reaches the command; its end (kubectl's stdin closing) ends `cat`
    text = "one line\nand another\n"
    piped = aci.plane.kubectl("exec", "-i", "-n", aci.namespace, "shell", "--", "cat", input_text=text, check=False)
    assert piped.stdout == text, (piped, _logs(aci))
    assert piped.returncode == 1, piped

    # a failing command looks the same: its code is lost on ACI
    failed = aci.plane.kubectl("exec", "-n", aci.namespace, "shell", "--", "sh", "-c", "exit 3", check=False)
    assert (failed.stdout, failed.returncode) == ("", 1), failed
    assert failed.stderr.strip() == UNKNOWN_EXIT_ERROR, failed.stderr

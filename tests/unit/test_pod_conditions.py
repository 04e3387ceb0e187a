"""Pod phase and conditions follow the kubelet's rules from the containers' states."""

from __future__ import annotations

from typing import Any

import pytest

from vk_controller.pods.conditions import pod_conditions, pod_phase


def running(name: str, *, ready: bool = True) -> dict[str, Any]:
    return {"name": name, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}, "ready": ready}


def exited(name: str, code: int) -> dict[str, Any]:
    return {"name": name, "state": {"terminated": {"exitCode": code}}, "ready": False}


def waiting(name: str) -> dict[str, Any]:
    return {"name": name, "state": {"waiting": {"reason": "ContainerCreating"}}, "ready": False}


def spec(*names: str, restart: str = "Always", inits: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "restartPolicy": restart,
        "containers": [{"name": n} for n in names],
        "initContainers": [{"name": n} for n in inits],
    }


@pytest.mark.parametrize(
    ("restart", "statuses", "phase"),
    [
        ("Never", [exited("a", 0)], "Succeeded"),
        ("Never", [exited("a", 1)], "Failed"),
        ("Never", [exited("a", 0), running("b")], "Running"),
        ("OnFailure", [exited("a", 1)], "Running"),
        ("OnFailure", [exited("a", 0)], "Succeeded"),
        ("Always", [exited("a", 0)], "Running"),
        ("Always", [waiting("a")], "Pending"),
    ],
)
def test_phase_follows_restart_policy(restart: str, statuses: list[dict[str, Any]], phase: str) -> None:
    names = [s["name"] for s in statuses]
    assert pod_phase(spec(*names, restart=restart), [], statuses) == phase


def test_pod_is_pending_until_init_containers_complete() -> None:
    pod_spec = spec("main", inits=("setup",), restart="Never")

    assert pod_phase(pod_spec, [running("setup")], [waiting("main")]) == "Pending"
    assert pod_phase(pod_spec, [exited("setup", 0)], [running("main")]) == "Running"
    assert pod_phase(pod_spec, [exited("setup", 2)], [waiting("main")]) == "Failed"


def _conditions(pod: dict[str, Any], phase: str, mains: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in pod_conditions(pod, phase, [], mains, sandbox_ready=True)}


def test_ready_only_when_every_container_is_ready() -> None:
    pod = {"spec": spec("a", "b"), "status": {}}

    conditions = _conditions(pod, "Running", [running("a"), running("b", ready=False)])

    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["message"] == "containers with unready status: [b]"
    assert conditions["ContainersReady"]["status"] == "False"
    assert _conditions(pod, "Running", [running("a"), running("b")])["Ready"]["status"] == "True"


def test_readiness_gates_hold_ready_back() -> None:
    pod = {"spec": {**spec("a"), "readinessGates": [{"conditionType": "example.com/gate"}]}, "status": {}}

    held = _conditions(pod, "Running", [running("a")])
    pod["status"]["conditions"] = [{"type": "example.com/gate", "status": "True"}]
    released = _conditions(pod, "Running", [running("a")])

    assert held["Ready"]["reason"] == "ReadinessGatesNotReady"
    assert held["ContainersReady"]["status"] == "True"
    assert released["Ready"]["status"] == "True"
    assert released["example.com/gate"]["status"] == "True", "conditions others own are kept"


def test_transition_time_moves_only_when_status_changes() -> None:
    earlier = "2020-01-01T00:00:00Z"
    pod = {
        "spec": spec("a"),
        "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": earlier}]},
    }

    same = _conditions(pod, "Running", [running("a")])
    flipped = _conditions(pod, "Running", [running("a", ready=False)])

    assert same["Ready"]["lastTransitionTime"] == earlier
    assert flipped["Ready"]["lastTransitionTime"] != earlier


def test_a_succeeded_pod_is_not_ready_because_it_completed() -> None:
    pod = {"spec": spec("a", restart="Never"), "status": {}}

    conditions = _conditions(pod, "Succeeded", [exited("a", 0)])

    assert conditions["Ready"] == {**conditions["Ready"], "status": "False", "reason": "PodCompleted"}

"""Pod phase and conditions computed from container statuses, as the kubelet computes them.

Inputs and outputs are the API's JSON shapes. The provider reports container states and readiness; everything a
user or a Service reads from ``status.conditions`` derives from them here, so Ready is True only when every
container is ready by the provider's word and every readiness gate is satisfied.
"""

from __future__ import annotations

from typing import Any

from vk_controller.kube.times import format_time, now

Json = dict[str, Any]

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


def _by_name(statuses: list[Json]) -> dict[str, Json]:
    return {status["name"]: status for status in statuses}


def _is_sidecar(container: Json) -> bool:
    return container.get("restartPolicy") == "Always"


def pod_phase(spec: Json, init_statuses: list[Json], statuses: list[Json]) -> str:
    """The phase the containers' states imply (kubelet's getPhase)."""
    restart = spec.get("restartPolicy", "Always")
    inits = _by_name(init_statuses)
    for container in spec.get("initContainers", []):
        state = inits.get(container["name"], {}).get("state", {})
        if _is_sidecar(container):
            if "running" not in state:
                return "Pending" if "terminated" not in state or restart == "Always" else "Failed"
            continue
        terminated = state.get("terminated")
        if terminated is None:
            return "Pending"
        if terminated.get("exitCode", 1) != 0:
            return "Failed" if restart == "Never" else "Pending"
    mains = _by_name(statuses)
    running = waiting = succeeded = failed = 0
    for container in spec.get("containers", []):
        status = mains.get(container["name"], {})
        state = status.get("state", {})
        if "running" in state:
            running += 1
        elif "terminated" in state:
            if state["terminated"].get("exitCode", 1) == 0:
                succeeded += 1
            else:
                failed += 1
        elif "terminated" in status.get("lastState", {}):
            # waiting to restart after an exit: still running as far as the pod is concerned
            running += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if restart == "Always":
        return "Running"
    if failed and restart == "Never":
        return "Failed"
    if failed:
        return "Running"  # OnFailure: the failed ones restart
    return "Succeeded"


def waiting_status(name: str, image: str, reason: str = "ContainerCreating", message: str = "") -> Json:
    waiting: Json = {"reason": reason}
    if message:
        waiting["message"] = message
    return {
        "name": name,
        "state": {"waiting": waiting},
        "lastState": {},
        "ready": False,
        "started": False,
        "restartCount": 0,
        "image": image,
        "imageID": "",
    }


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> Json:
    condition: Json = {"type": kind, "status": "True" if ok else "False"}
    if not ok and reason:
        condition["reason"] = reason
    if not ok and message:
        condition["message"] = message
    return condition


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def pod_conditions(
    pod: Json, phase: str, init_statuses: list[Json], statuses: list[Json], *, sandbox_ready: bool
) -> list[Json]:
    """The conditions the kubelet owns, with lastTransitionTime kept where the status did not change."""
    spec = pod["spec"]
    inits = _by_name(init_statuses)
    mains = _by_name(statuses)

    incomplete = []
    for container in spec.get("initContainers", []):
        state = inits.get(container["name"], {}).get("state", {})
        done = "running" in state if _is_sidecar(container) else state.get("terminated", {}).get("exitCode") == 0
        if not done:
            incomplete.append(container["name"])
    initialized = not incomplete or phase == "Succeeded"

    unready = [c["name"] for c in spec.get("containers", []) if not mains.get(c["name"], {}).get("ready", False)]
    unready += [
        c["name"]
        for c in spec.get("initContainers", [])
        if _is_sidecar(c) and not inits.get(c["name"], {}).get("ready")
    ]
    existing = {c["type"]: c for c in pod.get("status", {}).get("conditions", [])}
    gates = [gate["conditionType"] for gate in spec.get("readinessGates", [])]
    missing_gates = [gate for gate in gates if existing.get(gate, {}).get("status") != "True"]

    if phase == "Succeeded":
        containers_ready = _condition("ContainersReady", False, "PodCompleted")
        ready = _condition("Ready", False, "PodCompleted")
    else:
        containers_ready = _condition(
            "ContainersReady", not unready, "ContainersNotReady", f"containers with unready status: {_names(unready)}"
        )
        if unready:
            ready = _condition(
                "Ready", False, "ContainersNotReady", f"containers with unready status: {_names(unready)}"
            )
        elif missing_gates:
            ready = _condition(
                "Ready",
                False,
                "ReadinessGatesNotReady",
                f"corresponding condition of pod readiness gate {missing_gates[0]!r} does not exist.",
            )
        else:
            ready = _condition("Ready", True)

    computed = [
        _condition("PodReadyToStartContainers", sandbox_ready),
        _condition(
            "Initialized",
            initialized,
            "ContainersNotInitialized",
            f"containers with incomplete status: {_names(incomplete)}",
        ),
        ready,
        containers_ready,
        _condition("PodScheduled", True),
    ]
    stamp = format_time(now())
    for condition in computed:
        before = existing.get(condition["type"])
        condition["lastProbeTime"] = None
        condition["lastTransitionTime"] = (
            before["lastTransitionTime"]
            if before and before.get("status") == condition["status"] and before.get("lastTransitionTime")
            else stamp
        )
    owned = {c["type"] for c in computed}
    # Conditions others own (readiness gates, DisruptionTarget, ...) are kept as they are.
    return computed + [c for t, c in existing.items() if t not in owned]

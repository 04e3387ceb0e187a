"""Container group (ARM JSON, as listed) → the protocol's ``PodStatus``. Pure functions.

- **Containers**: ``instanceView.currentState.state`` ``Running`` → running since ``startTime``; ``Terminated`` →
  terminated with ``exitCode`` (unset when ACI gives none), ``startTime``, ``finishTime`` and the reason
  ``Completed`` (exit 0) or ``Error``, or ACI's ``detailStatus`` when it is a Kubernetes word (``OOMKilled``, ...);
  ``Waiting`` → waiting with ``detailStatus`` (``CrashLoopBackOff``, ``ErrImagePull``, ...) or
  ``ContainerCreating``. No instance view yet → waiting ``ContainerCreating``. ``previousState`` Terminated becomes
  ``last_termination_state``; ``restartCount`` is reported as is.
- **ready**: running and, with a readiness probe, no ``Unhealthy`` readiness event since it started (ACI runs the
  probe but reports its result only as events).
- **Phase**, as Kubernetes computes it: provisioning ``Failed``/``Canceled`` → FAILED with the ARM error (if the
  provider saw it) or the group's state; any init container not yet completed → PENDING; every container
  terminated and none will restart → SUCCEEDED if all exited 0, else FAILED; a container running → RUNNING;
  otherwise PENDING. With restart policy Always a pod never ends on its own.
- **IP**: the group's ``ipAddress.ip`` once assigned.
"""

from __future__ import annotations

import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import status_pb2

#: detailStatus values that are already Kubernetes reasons.
_KUBERNETES_REASONS = {
    "Completed",
    "Error",
    "OOMKilled",
    "ContainerCreating",
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
}
FAILED_PROVISIONING = {"Failed", "Canceled"}


def timestamp(text: str | None) -> timestamp_pb2.Timestamp | None:
    """An RFC 3339 time as a Timestamp, None when absent or unreadable."""
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _terminated(state: dict[str, Any]) -> status_pb2.ContainerStateTerminated:
    terminated = status_pb2.ContainerStateTerminated()
    code = state.get("exitCode")
    if isinstance(code, int):
        terminated.exit_code = code
    detail = str(state.get("detailStatus") or "")
    if detail in _KUBERNETES_REASONS:
        terminated.reason = detail
    elif isinstance(code, int):
        terminated.reason = "Completed" if code == 0 else "Error"
    if detail and detail != terminated.reason:
        terminated.message = detail
    for attribute, key in (("started_at", "startTime"), ("finished_at", "finishTime")):
        stamp = timestamp(state.get(key))
        if stamp is not None:
            getattr(terminated, attribute).CopyFrom(stamp)
    return terminated


def _readiness_failed_since(view: dict[str, Any], started: timestamp_pb2.Timestamp | None) -> bool:
    for event in view.get("events") or []:
        if event.get("name") != "Unhealthy" or "eadiness" not in str(event.get("message", "")):
            continue
        last = timestamp(event.get("lastTimestamp"))
        if started is None or last is None or last.ToNanoseconds() >= started.ToNanoseconds():
            return True
    return False


def container_status(container: dict[str, Any], *, image: str = "") -> status_pb2.ContainerStatus:
    properties = container.get("properties") or {}
    view = properties.get("instanceView") or {}
    status = status_pb2.ContainerStatus(
        name=str(container.get("name", "")),
        image=image or str(properties.get("image", "")),
        restart_count=int(view.get("restartCount") or 0),
    )
    current = view.get("currentState") or {}
    state = current.get("state")
    if state == "Running":
        started = timestamp(current.get("startTime"))
        status.state.running.SetInParent()
        if started is not None:
            status.state.running.started_at.CopyFrom(started)
        status.started = True
        has_readiness = bool(properties.get("readinessProbe"))
        status.ready = not (has_readiness and _readiness_failed_since(view, started))
    elif state == "Terminated":
        status.state.terminated.CopyFrom(_terminated(current))
    else:
        detail = str(current.get("detailStatus") or "")
        reason = detail if detail in _KUBERNETES_REASONS else "ContainerCreating"
        status.state.waiting.reason = reason
        if detail and detail != reason:
            status.state.waiting.message = detail
    previous = view.get("previousState") or {}
    if previous.get("state") == "Terminated":
        status.last_termination_state.CopyFrom(_terminated(previous))
    return status


def _exit_code(status: status_pb2.ContainerStatus) -> int | None:
    terminated = status.state.terminated
    return terminated.exit_code if terminated.HasField("exit_code") else None


def pod_status(group: dict[str, Any], *, error_code: str = "", error_message: str = "") -> status_pb2.PodStatus:
    """The pod's status from its container group; ``error_*`` is what ARM said when provisioning failed."""
    properties = group.get("properties") or {}
    restart = properties.get("restartPolicy") or "Always"
    result = status_pb2.PodStatus()
    result.init_container_statuses.extend(container_status(c) for c in properties.get("initContainers") or [])
    result.container_statuses.extend(container_status(c) for c in properties.get("containers") or [])
    ip = (properties.get("ipAddress") or {}).get("ip")
    if ip:
        result.pod_ips.append(str(ip))
    starts = [
        s.state.running.started_at
        for s in (*result.init_container_statuses, *result.container_statuses)
        if s.state.running.HasField("started_at")
    ] + [
        s.state.terminated.started_at
        for s in (*result.init_container_statuses, *result.container_statuses)
        if s.state.terminated.HasField("started_at")
    ]
    if starts:
        result.start_time.CopyFrom(min(starts, key=lambda stamp: stamp.ToNanoseconds()))

    provisioning = str(properties.get("provisioningState") or "")
    if provisioning in FAILED_PROVISIONING or error_code:
        result.phase = status_pb2.POD_PHASE_FAILED
        result.reason = error_code or f"Provisioning{provisioning}"
        result.message = error_message or f"{provisioning}: Azure did not provision the container group"
        return result
    inits_done = all(
        s.state.WhichOneof("state") == "terminated" and _exit_code(s) == 0 for s in result.init_container_statuses
    )
    failed_init = any(
        s.state.WhichOneof("state") == "terminated" and _exit_code(s) != 0 for s in result.init_container_statuses
    )
    containers = list(result.container_statuses)
    codes = [_exit_code(s) for s in containers]
    all_terminated = bool(containers) and all(s.state.WhichOneof("state") == "terminated" for s in containers)
    if failed_init and restart == "Never":
        result.phase = status_pb2.POD_PHASE_FAILED
    elif not inits_done:
        result.phase = status_pb2.POD_PHASE_PENDING
    elif all_terminated and restart == "Never":
        ok = all(code == 0 for code in codes)
        result.phase = status_pb2.POD_PHASE_SUCCEEDED if ok else status_pb2.POD_PHASE_FAILED
    elif all_terminated and restart == "OnFailure" and all(code == 0 for code in codes):
        result.phase = status_pb2.POD_PHASE_SUCCEEDED
    elif any(s.state.WhichOneof("state") in ("running", "terminated") for s in containers):
        result.phase = status_pb2.POD_PHASE_RUNNING
    else:
        result.phase = status_pb2.POD_PHASE_PENDING
    return result


def is_finished(status: status_pb2.PodStatus) -> bool:
    return status.phase in (status_pb2.POD_PHASE_SUCCEEDED, status_pb2.POD_PHASE_FAILED)


__all__ = ["container_status", "is_finished", "pod_status", "timestamp"]

"""ECS task (as DescribeTasks returns it) → the protocol's PodStatus. Pure functions, unit-tested.

Task ``lastStatus`` runs PROVISIONING → PENDING → ACTIVATING → RUNNING → DEACTIVATING → STOPPING →
DEPROVISIONING → STOPPED. Containers have their own ``lastStatus`` (PENDING, RUNNING, STOPPED), ``exitCode`` and
``reason``. The mapping:

- a container PENDING is *waiting*: ``ContainerCreating`` (``PodInitializing`` for regular containers while init
  containers run), or ``ErrImagePull`` when the task stopped because an image could not be pulled
  (``CannotPullContainerError`` in the container's or the task's reason);
- RUNNING is *running* (from the task's ``startedAt``); ready and started, since readiness probes are refused;
- STOPPED is *terminated*, with the exit code when ECS knows it, reason ``Completed`` (0), ``OOMKilled``
  (``OutOfMemoryError``) or ``Error``, and the container's reason as the message;
- a container that never ran in a task that stopped is *terminated* without an exit code (the controller reports
  ``ContainerStatusUnknown``), unless its image could not be pulled;
- the phase is terminal only when the task stopped, or when every regular container terminated and the restart
  policy will not restart them; SUCCEEDED needs every regular container to have exited 0;
- the pod IP is the task ENI's ``privateIPv4Address``; ``startTime`` is the task's ``createdAt``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import status_pb2

TERMINAL_TASK = frozenset({"STOPPED", "DELETED"})
_PULL_ERRORS = ("CannotPullContainerError", "CannotPullImageManifestError", "PullImageManifestError")
_STOP_REASONS = {
    "TaskFailedToStart": "TaskFailedToStart",
    "SpotInterruption": "Preempted",
    "TerminationNotice": "Preempted",
    "ServiceSchedulerInitiated": "TaskStopped",
    "UserInitiated": "TaskStopped",
}


def _timestamp(value: Any) -> timestamp_pb2.Timestamp | None:
    if isinstance(value, datetime.datetime):
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(value.astimezone(datetime.UTC) if value.tzinfo else value)
        return stamp
    return None


def pod_ip(task: Mapping[str, Any]) -> str:
    """The ENI's private IPv4 address, or ''."""
    for attachment in task.get("attachments", []):
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        for detail in attachment.get("details", []):
            if detail.get("name") == "privateIPv4Address" and detail.get("value"):
                return str(detail["value"])
    return ""


def is_pull_failure(text: str) -> bool:
    return any(marker in text for marker in _PULL_ERRORS)


def container_status(
    name: str,
    image: str,
    container: Mapping[str, Any] | None,
    task: Mapping[str, Any],
    *,
    waiting_reason: str = "ContainerCreating",
) -> status_pb2.ContainerStatus:
    """One container's status from its DescribeTasks entry (None when ECS does not list it)."""
    status = status_pb2.ContainerStatus(name=name, image=image)
    task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1]
    last = str((container or {}).get("lastStatus", "PENDING"))
    reason = str((container or {}).get("reason", ""))
    stopped_reason = str(task.get("stoppedReason", ""))
    task_stopped = task.get("lastStatus") in TERMINAL_TASK
    if container is not None and container.get("imageDigest"):
        status.image_id = f"{image.split('@')[0].rsplit(':', 1)[0]}@{container['imageDigest']}"
    if last != "PENDING":
        status.container_id = f"fargate://{task_id}/{name}"
    if last == "RUNNING":
        status.state.running.SetInParent()
        started = _timestamp(task.get("startedAt"))
        if started is not None:
            status.state.running.started_at.CopyFrom(started)
        status.ready = status.started = True
        return status
    if last == "STOPPED" or (task_stopped and not is_pull_failure(reason + stopped_reason)):
        terminated = status.state.terminated
        terminated.container_id = status.container_id
        if last == "STOPPED" and container is not None and container.get("exitCode") is not None:
            code = int(container["exitCode"])
            terminated.exit_code = code
            if "OutOfMemoryError" in reason:
                terminated.reason = "OOMKilled"
            else:
                terminated.reason = "Completed" if code == 0 else "Error"
        else:
            terminated.reason = "ContainerStatusUnknown" if last == "STOPPED" else "ContainerCannotRun"
        terminated.message = (reason or ("" if last == "STOPPED" else stopped_reason))[:4096]
        for source, target in (("startedAt", terminated.started_at), ("stoppedAt", terminated.finished_at)):
            stamp = _timestamp(task.get(source))
            if stamp is not None:
                target.CopyFrom(stamp)
        return status
    waiting = status.state.waiting
    if is_pull_failure(reason) or (task_stopped and is_pull_failure(stopped_reason)):
        waiting.reason = "ErrImagePull"
        waiting.message = (reason or stopped_reason)[:4096]
    else:
        waiting.reason = waiting_reason
    return status


def pod_status(
    task: Mapping[str, Any],
    *,
    init_containers: Sequence[tuple[str, str, bool]],
    containers: Sequence[tuple[str, str]],
    restart_policy: str,
) -> status_pb2.PodStatus:
    """The pod's status from its task: containers are ``(name, image)``, init containers ``(name, image, sidecar)``."""
    by_name = {str(c.get("name")): c for c in task.get("containers", [])}
    status = status_pb2.PodStatus()
    created = _timestamp(task.get("createdAt"))
    if created is not None:
        status.start_time.CopyFrom(created)
    address = pod_ip(task)
    if address:
        status.pod_ips.append(address)
    initialized = True
    for name, image, sidecar in init_containers:
        entry = container_status(name, image, by_name.get(name), task, waiting_reason="PodInitializing")
        state = entry.state.WhichOneof("state")
        exited_0 = (
            state == "terminated"
            and entry.state.terminated.HasField("exit_code")
            and not entry.state.terminated.exit_code
        )
        initialized = initialized and (exited_0 or (sidecar and state == "running"))
        status.init_container_statuses.append(entry)
    waiting = "ContainerCreating" if initialized else "PodInitializing"
    for name, image in containers:
        status.container_statuses.append(container_status(name, image, by_name.get(name), task, waiting_reason=waiting))
    status.phase = _phase(task, status, restart_policy, initialized)
    if task.get("lastStatus") in TERMINAL_TASK:
        stop_code = str(task.get("stopCode", ""))
        stopped_reason = str(task.get("stoppedReason", ""))
        pulled = any(c.state.waiting.reason == "ErrImagePull" for c in status.container_statuses)
        if pulled:
            status.reason, status.message = "ErrImagePull", stopped_reason
        elif stop_code in _STOP_REASONS and status.phase == status_pb2.POD_PHASE_FAILED:
            status.reason, status.message = _STOP_REASONS[stop_code], stopped_reason
    return status


def _phase(
    task: Mapping[str, Any], status: status_pb2.PodStatus, restart_policy: str, initialized: bool
) -> status_pb2.PodPhase.ValueType:
    states = [c.state for c in status.container_statuses]
    terminated = [s.terminated for s in states if s.WhichOneof("state") == "terminated"]
    all_done = len(terminated) == len(states)
    succeeded = all_done and all(t.HasField("exit_code") and t.exit_code == 0 for t in terminated)
    if task.get("lastStatus") in TERMINAL_TASK:
        return (
            status_pb2.POD_PHASE_SUCCEEDED if succeeded and restart_policy != "Always" else status_pb2.POD_PHASE_FAILED
        )
    if all_done and (restart_policy == "Never" or (restart_policy == "OnFailure" and succeeded)):
        return status_pb2.POD_PHASE_SUCCEEDED if succeeded else status_pb2.POD_PHASE_FAILED
    if initialized and any(s.WhichOneof("state") in ("running", "terminated") for s in states):
        return status_pb2.POD_PHASE_RUNNING
    return status_pb2.POD_PHASE_PENDING


__all__ = ["TERMINAL_TASK", "container_status", "is_pull_failure", "pod_ip", "pod_status"]

"""The provider's pod status, translated to the Kubernetes API's JSON.

The provider reports container states and readiness; the Kubernetes fields (``containerStatuses``, ``podIP`` and
so on) are built here. Phase and conditions are computed from them in ``vk_controller.pods.conditions`` so they
follow the kubelet's rules whatever the provider says.

Free text from the provider is bounded before it reaches the API: reasons to ``MAX_REASON_BYTES`` and messages to
``MAX_MESSAGE_BYTES`` (the kubelet's own bound on a termination message, ``MaxContainerTerminationMessageLength``,
4 KiB). An unbounded message could make the pod's status larger than the API server accepts, and the status
would then never be written again.
"""

from __future__ import annotations

import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import status_pb2
from vk_controller.kube.times import format_time
from vk_controller.pods.conditions import waiting_status

Json = dict[str, Any]

MAX_MESSAGE_BYTES = 4096
MAX_REASON_BYTES = 128
TRUNCATED = " [truncated]"

PHASES = {
    status_pb2.POD_PHASE_PENDING: "Pending",
    status_pb2.POD_PHASE_RUNNING: "Running",
    status_pb2.POD_PHASE_SUCCEEDED: "Succeeded",
    status_pb2.POD_PHASE_FAILED: "Failed",
    status_pb2.POD_PHASE_UNKNOWN: "Unknown",
}


def clamp(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` UTF-8 bytes, else its head (whole characters) marked as truncated."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len(TRUNCATED)].decode(errors="ignore") + TRUNCATED


def _time(stamp: timestamp_pb2.Timestamp, present: bool) -> str | None:
    return format_time(stamp.ToDatetime(tzinfo=datetime.UTC)) if present else None


def terminated_json(terminated: status_pb2.ContainerStateTerminated) -> Json:
    known = terminated.HasField("exit_code")
    code = terminated.exit_code if known else 137
    reason = terminated.reason or ("ContainerStatusUnknown" if not known else "Completed" if code == 0 else "Error")
    out: Json = {"exitCode": code, "reason": clamp(reason, MAX_REASON_BYTES)}
    if terminated.signal:
        out["signal"] = terminated.signal
    if terminated.message:
        out["message"] = clamp(terminated.message, MAX_MESSAGE_BYTES)
    elif not known:
        out["message"] = "The container could not be located when the pod was terminated"
    out["startedAt"] = _time(terminated.started_at, terminated.HasField("started_at"))
    out["finishedAt"] = _time(terminated.finished_at, terminated.HasField("finished_at"))
    if terminated.container_id:
        out["containerID"] = terminated.container_id
    return out


def state_json(state: status_pb2.ContainerState, present: bool) -> Json:
    kind = state.WhichOneof("state") if present else None
    if kind == "running":
        return {"running": {"startedAt": _time(state.running.started_at, state.running.HasField("started_at"))}}
    if kind == "terminated":
        return {"terminated": terminated_json(state.terminated)}
    if kind == "waiting":
        waiting: Json = {"reason": clamp(state.waiting.reason or "ContainerCreating", MAX_REASON_BYTES)}
        if state.waiting.message:
            waiting["message"] = clamp(state.waiting.message, MAX_MESSAGE_BYTES)
        return {"waiting": waiting}
    return {"waiting": {"reason": "ContainerCreating"}}


def container_status_json(status: status_pb2.ContainerStatus, image: str) -> Json:
    out: Json = {
        "name": status.name,
        "state": state_json(status.state, status.HasField("state")),
        "lastState": (
            {"terminated": terminated_json(status.last_termination_state)}
            if status.HasField("last_termination_state")
            else {}
        ),
        "ready": status.ready,
        "started": status.started,
        "restartCount": status.restart_count,
        "image": status.image or image,
        "imageID": status.image_id,
    }
    if status.container_id:
        out["containerID"] = status.container_id
    return out


def container_statuses(containers: list[Json], reported: list[status_pb2.ContainerStatus]) -> list[Json]:
    """One status per container of the spec, in spec order; containers the provider did not report are waiting."""
    by_name = {status.name: status for status in reported}
    out = []
    for container in containers:
        status = by_name.get(container["name"])
        image = container.get("image", "")
        out.append(
            container_status_json(status, image) if status is not None else waiting_status(container["name"], image)
        )
    return out

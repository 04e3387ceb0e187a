"""One-line descriptions of what a provider answered, for failure messages a provider author can act on.

Every failure the kit reports says what it expected and what came back; these functions render the "what came
back" part: statuses, records, errors and log entries, in the words of docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import logs_pb2, pod_pb2, pod_requests_pb2, status_pb2, streaming_pb2

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper  # only in the type stubs


def enum_name(enum: _EnumTypeWrapper[Any], value: int) -> str:
    """``POD_PHASE_RUNNING`` -> ``RUNNING``; a number the enum does not know stays visible as such."""
    prefix = enum.Name(0).removesuffix("UNSPECIFIED")
    try:
        return enum.Name(value).removeprefix(prefix)
    except ValueError:
        return f"unknown value {value}"


def phase(value: int) -> str:
    return enum_name(status_pb2.PodPhase, value)


def timestamp(value: timestamp_pb2.Timestamp) -> str:
    return value.ToDatetime().strftime("%H:%M:%S")


def container_state(state: status_pb2.ContainerStatus) -> str:
    kind = state.state.WhichOneof("state") if state.HasField("state") else None
    if kind == "running":
        running = state.state.running
        return "running" + (f" since {timestamp(running.started_at)}" if running.HasField("started_at") else "")
    if kind == "terminated":
        terminated = state.state.terminated
        code = (
            f"exit code {terminated.exit_code}" if terminated.HasField("exit_code") else "an unknown exit code (unset)"
        )
        reason = f" ({terminated.reason})" if terminated.reason else ""
        return f"terminated with {code}{reason}"
    if kind == "waiting":
        waiting = state.state.waiting
        detail = ": ".join(part for part in (waiting.reason, waiting.message) if part)
        return "waiting" + (f" ({detail})" if detail else "")
    return "no state yet"


def status(value: status_pb2.PodStatus | None) -> str:
    if value is None:
        return "none"
    parts = [f"phase {phase(value.phase)}"]
    if value.reason or value.message:
        parts[0] += f" ({': '.join(part for part in (value.reason, value.message) if part)})"
    containers = [f"container {c.name!r} {container_state(c)}" for c in value.container_statuses]
    parts.append(", ".join(containers) if containers else "no container statuses")
    return "; ".join(parts)


def record(value: status_pb2.PodRecord | None) -> str:
    if value is None:
        return "no record"
    deleting = ", deleting" if value.deleting else ""
    return f"{status(value.status)}{deleting}"


def deleted(value: pod_requests_pb2.PodDeleted) -> str:
    how = "requested" if value.requested else "not requested"
    why = ": ".join(part for part in (value.reason, value.message) if part)
    return f"deleted event ({how}{', ' + why if why else ''})"


def ref(value: pod_pb2.PodRef) -> str:
    return f"{value.namespace}/{value.name} (uid {value.uid})"


def pod(value: pod_pb2.Pod) -> str:
    return f"{value.metadata.namespace}/{value.metadata.name} (uid {value.metadata.uid})"


def rpc_error(error: grpc.aio.AioRpcError) -> str:
    details = error.details() or ""
    return f"{error.code().name}: {details}" if details else error.code().name


def log_lines(entries: Iterable[logs_pb2.LogEntry]) -> list[str]:
    """The entries' contents as text, joined where an entry is marked partial."""
    lines: list[str] = []
    pending = ""
    for entry in entries:
        pending += entry.content.decode("utf-8", errors="replace")
        if not entry.partial:
            lines.append(pending)
            pending = ""
    if pending:
        lines.append(pending)
    return lines


def exit_status(value: streaming_pb2.ExitStatus | None) -> str:
    if value is None:
        return "no exit message"
    state = enum_name(streaming_pb2.ExitStatusState, value.state)
    text = f"{state} {value.code}" if value.state == streaming_pb2.EXIT_STATUS_STATE_KNOWN else state
    why = ": ".join(part for part in (value.reason, value.message) if part)
    return text + (f" ({why})" if why else "")


def command(argv: Sequence[str]) -> str:
    return " ".join(repr(part) if " " in part or not part else part for part in argv)


def history(values: Sequence[str], *, limit: int = 6) -> str:
    """The last distinct states seen, oldest first."""
    shown = list(values[-limit:])
    prefix = "... -> " if len(values) > limit else ""
    return prefix + " -> ".join(shown) if shown else "nothing"

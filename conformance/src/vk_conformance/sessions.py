"""The user-started streams (logs, exec, attach, port-forward), driven the way the controller drives them.

Each helper runs one stream to its end (or until the check has what it needs), bounded by the run's timeout, and
returns everything that came back (message kinds in order, bytes, exit status, the error status) so that the
checks can say precisely what differed from the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from virtualkubelet.provider.v1 import logs_pb2, pod_pb2, provider_pb2_grpc, streaming_pb2
from vk_conformance import describe
from vk_conformance.expect import fail


@dataclass
class LogRead:
    responses: list[logs_pb2.GetContainerLogsResponse] = field(default_factory=list)
    #: The stream ended on its own with OK (rather than being cancelled by the kit).
    ended: bool = False

    @property
    def entries(self) -> list[logs_pb2.LogEntry]:
        return [entry for response in self.responses for entry in response.entries]

    @property
    def lines(self) -> list[str]:
        return describe.log_lines(self.entries)

    @property
    def history_complete(self) -> bool:
        return any(response.history_complete for response in self.responses)


async def read_logs(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    request: logs_pb2.GetContainerLogsRequest,
    *,
    within: float,
    until: Callable[[LogRead], bool] | None = None,
) -> LogRead:
    """Read a log stream to its end, or (``until``) until the check has seen enough; errors raise AioRpcError."""
    read = LogRead()
    call = stub.GetContainerLogs(request)
    try:
        async with asyncio.timeout(within):
            async for response in call:
                read.responses.append(response)
                if until is not None and until(read):
                    return read
        read.ended = True
        return read
    except TimeoutError:
        wanted = "the entries the check needs" if until is not None else "the log stream to end"
        fail(
            f"expected {wanted} within {within:g}s from GetContainerLogs({_options(request)}); "
            f"got lines {read.lines!r} and the stream still open"
        )
    finally:
        call.cancel()


def _options(request: logs_pb2.GetContainerLogsRequest) -> str:
    text = f"container={request.container!r}"
    for name in ("follow", "timestamps", "previous"):
        if getattr(request, name):
            text += f", {name}=true"
    if request.HasField("tail_lines"):
        text += f", tail_lines={request.tail_lines}"
    if request.HasField("limit_bytes"):
        text += f", limit_bytes={request.limit_bytes}"
    if request.HasField("since_time"):
        text += f", since_time={request.since_time.ToJsonString()}"
    return text


@dataclass
class SessionResult:
    """What came back on an exec or attach stream."""

    kinds: list[str] = field(default_factory=list)
    stdout: bytes = b""
    stderr: bytes = b""
    exit: streaming_pb2.ExitStatus | None = None
    error: grpc.aio.AioRpcError | None = None
    timed_out: bool = False

    @property
    def first(self) -> str | None:
        return self.kinds[0] if self.kinds else None

    def summary(self) -> str:
        parts = [f"messages {' -> '.join(self.kinds) or 'none'}"]
        if self.stdout:
            parts.append(f"stdout {self.stdout!r}")
        if self.stderr:
            parts.append(f"stderr {self.stderr!r}")
        if self.exit is not None:
            parts.append(f"exit {describe.exit_status(self.exit)}")
        if self.error is not None:
            parts.append(f"ended with {describe.rpc_error(self.error)}")
        if self.timed_out:
            parts.append("still open when the kit gave up")
        return "; ".join(parts)


async def run_exec(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, start: streaming_pb2.ExecStart, *, within: float
) -> SessionResult:
    """Run one exec session to its end (no stdin; the request stream stays open, as the controller keeps it)."""
    result = SessionResult()
    call = stub.Exec()
    try:
        async with asyncio.timeout(within):
            await call.write(streaming_pb2.ExecRequest(start=start))
            while True:
                response = await call.read()
                if not isinstance(response, streaming_pb2.ExecResponse):  # grpc.aio.EOF: ended with OK
                    break
                kind = response.WhichOneof("payload") or "an empty message"
                result.kinds.append(kind)
                if kind == "output":
                    result.stdout += response.output.stdout
                    result.stderr += response.output.stderr
                elif kind == "exit":
                    result.exit = response.exit
    except grpc.aio.AioRpcError as error:
        result.error = error
    except TimeoutError:
        result.timed_out = True
    finally:
        call.cancel()
    return result


async def attach_until_started(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, start: streaming_pb2.AttachStart, *, within: float
) -> SessionResult:
    """Attach, read the first message, and detach (cancel, as a user going away)."""
    result = SessionResult()
    call = stub.Attach()
    try:
        async with asyncio.timeout(within):
            await call.write(streaming_pb2.AttachRequest(start=start))
            response = await call.read()
            if isinstance(response, streaming_pb2.AttachResponse):
                result.kinds.append(response.WhichOneof("payload") or "an empty message")
    except grpc.aio.AioRpcError as error:
        result.error = error
    except TimeoutError:
        result.timed_out = True
    finally:
        call.cancel()
    return result


@dataclass
class ForwardResult:
    """What came back on a port-forward stream."""

    kinds: list[str] = field(default_factory=list)
    data: bytes = b""
    error: grpc.aio.AioRpcError | None = None
    timed_out: bool = False
    ended_ok: bool = False

    def summary(self) -> str:
        parts = [f"messages {' -> '.join(self.kinds) or 'none'}"]
        if self.data:
            parts.append(f"data {self.data!r}")
        if self.error is not None:
            parts.append(f"ended with {describe.rpc_error(self.error)}")
        elif self.ended_ok:
            parts.append("ended with OK")
        if self.timed_out:
            parts.append("still open when the kit gave up")
        return "; ".join(parts)


async def forward(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    ref: pod_pb2.PodRef,
    port: int,
    payload: bytes,
    *,
    within: float,
) -> ForwardResult:
    """One TCP connection: wait for ``started``, send ``payload``, half-close, read until the RPC ends."""
    result = ForwardResult()
    call = stub.PortForward()
    try:
        async with asyncio.timeout(within):
            await call.write(streaming_pb2.PortForwardRequest(start=streaming_pb2.PortForwardStart(pod=ref, port=port)))
            sent = False
            while True:
                response = await call.read()
                if not isinstance(response, streaming_pb2.PortForwardResponse):  # grpc.aio.EOF
                    result.ended_ok = True
                    break
                kind = response.WhichOneof("payload") or "an empty message"
                result.kinds.append(kind)
                if kind == "data":
                    result.data += response.data
                if kind == "started" and not sent:
                    sent = True
                    await call.write(streaming_pb2.PortForwardRequest(data=payload))
                    await call.write(streaming_pb2.PortForwardRequest(close_write=streaming_pb2.CloseWrite()))
                    with contextlib.suppress(grpc.aio.UsageError):
                        await call.done_writing()
    except grpc.aio.AioRpcError as error:
        result.error = error
    except TimeoutError:
        result.timed_out = True
    finally:
        call.cancel()
    return result

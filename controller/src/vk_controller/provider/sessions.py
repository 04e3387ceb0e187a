"""Exec, attach and port-forward sessions on the provider, as plain Python objects.

This is the only module of the controller that touches ``streaming_pb2``: the kubelet API's streaming code sees
:class:`ContainerSession` (send stdin, resize, close stdin; iterate :class:`Output` and :class:`Exit`) and
:class:`PortConnection` (write, close the write half, read until the pod's side closes).

Design decisions:

- **Opening waits for ``started``.** :func:`open_exec`, :func:`open_attach` and :func:`open_port_forward` return
  only once the provider says the session is established, and raise the :class:`ProviderError` of the call
  otherwise. The caller upgrades the user's connection only after that, so refusals (unknown container, not
  running, not supported) reach the user as HTTP errors rather than as a stream that ends at once.
- **Input is queued in order and never raises once the session ended**: input for a session that is over is
  dropped, and the reader learns how it ended from the response stream.
- **Closing cancels the RPC**, which is the protocol's "the user went away". It is idempotent and safe after the
  session ended on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import grpc

from virtualkubelet.provider.v1 import provider_pb2_grpc, streaming_pb2
from vk_controller.provider.client import ProviderClient
from vk_controller.provider.records import pod_ref
from vk_provider_sdk.errors import Internal, ProviderError, from_rpc_error


@dataclass(frozen=True)
class PodTarget:
    """Which pod a session is for."""

    uid: str
    namespace: str
    name: str


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int


@dataclass(frozen=True)
class Output:
    """Bytes the process wrote."""

    stream: Literal["stdout", "stderr"]
    data: bytes


@dataclass(frozen=True)
class Exit:
    """How the process ended; ``code`` is None when the provider cannot tell."""

    code: int | None
    reason: str = ""
    message: str = ""


#: Input messages waiting for gRPC to send them (stdin chunks are at most 32 KiB).
_INPUT_BUFFER = 8

ReqT = TypeVar("ReqT", streaming_pb2.ExecRequest, streaming_pb2.AttachRequest, streaming_pb2.PortForwardRequest)
RespT = TypeVar("RespT", streaming_pb2.ExecResponse, streaming_pb2.AttachResponse, streaming_pb2.PortForwardResponse)


def _stub(client: ProviderClient) -> provider_pb2_grpc.ProviderServiceAsyncStub:
    # The client owns the channel and its stub; sessions are a second view of the same channel.
    return client.stub


class _Call(Generic[ReqT, RespT]):
    """A bidirectional call: writes that never raise after the end, reads that raise ProviderError.

    Requests go through a request iterator that gRPC consumes, not ``call.write``: a write that reaches a call the
    provider has just finished makes grpc fail ``call.write`` *and every read after it*, losing output the provider
    had already sent (such as the exit status), while a request iterator merely stops being consumed.
    """

    def __init__(self, method: grpc.aio.StreamStreamMultiCallable[ReqT, RespT], first: ReqT) -> None:
        self._queue: asyncio.Queue[ReqT | None] = asyncio.Queue(_INPUT_BUFFER)
        self._queue.put_nowait(first)
        self._write_closed = False
        self._finished = asyncio.Event()
        self._call: grpc.aio.StreamStreamCall[ReqT, RespT] = method(self._requests())
        self._call.add_done_callback(lambda _: self._finished.set())
        # Iterating (rather than ``call.read()``) still delivers what the provider sent when a late write failed.
        self._responses: AsyncIterator[RespT] = aiter(self._call)

    async def _requests(self) -> AsyncIterator[ReqT]:
        while (message := await self._queue.get()) is not None:
            yield message

    async def _put(self, message: ReqT | None) -> bool:
        if self._call.done():
            return False
        putting = asyncio.ensure_future(self._queue.put(message))
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait({putting, finished}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            finished.cancel()
            if not putting.done():
                putting.cancel()
        return putting.done() and not putting.cancelled()

    async def write(self, message: ReqT) -> bool:
        """Send ``message`` (waiting while gRPC's flow control holds it back); False if the session is over or
        the request stream was closed (the message is dropped)."""
        if self._write_closed:
            return False
        return await self._put(message)

    async def done_writing(self) -> None:
        if not self._write_closed:
            self._write_closed = True
            await self._put(None)

    async def read(self) -> RespT | None:
        """The next message, or None when the provider ended the RPC with OK."""
        try:
            return await anext(self._responses, None)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        except asyncio.InvalidStateError as error:  # read after cancel
            raise Internal("the provider session was closed") from error

    async def started(self, what: str) -> None:
        """Wait for the provider's first message, which must be ``started``."""
        try:
            first = await self.read()
        except BaseException:
            self.cancel()
            raise
        kind = first.WhichOneof("payload") if first is not None else None
        if kind != "started":
            self.cancel()
            raise Internal(f"the provider's {what} session did not start (first message: {kind or 'end of stream'})")

    def cancel(self) -> None:
        self._call.cancel()
        # End the request iterator too: grpc does not cancel the task consuming it when the call is already over.
        self._write_closed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


def _size(size: TerminalSize | None) -> streaming_pb2.TerminalSize | None:
    return None if size is None else streaming_pb2.TerminalSize(width=size.width, height=size.height)


class ContainerSession:
    """An exec or attach session: input with the methods, output by iterating (``Output`` items, then at most one
    ``Exit``). Iteration raises :class:`ProviderError` if the provider ends the session with an error."""

    def __init__(self, call: _Call[Any, Any], wrap: type[streaming_pb2.ExecRequest | streaming_pb2.AttachRequest]):
        self._call = call
        self._wrap = wrap

    async def send_stdin(self, data: bytes) -> None:
        if data:
            await self._call.write(self._wrap(input=streaming_pb2.StreamInput(stdin=data)))

    async def resize(self, size: TerminalSize) -> None:
        await self._call.write(self._wrap(input=streaming_pb2.StreamInput(resize=_size(size))))

    async def close_stdin(self) -> None:
        await self._call.write(self._wrap(input=streaming_pb2.StreamInput(close_stdin=streaming_pb2.CloseStdin())))

    async def __aiter__(self) -> AsyncIterator[Output | Exit]:
        """The output, then the exit status if there is one; raises ProviderError if the session failed."""
        while (message := await self._call.read()) is not None:
            kind = message.WhichOneof("payload")
            if kind == "output":
                output = message.output
                if output.WhichOneof("output") == "stderr":
                    yield Output("stderr", output.stderr)
                else:
                    yield Output("stdout", output.stdout)
            elif kind == "exit":
                status = message.exit
                known = status.state == streaming_pb2.EXIT_STATUS_STATE_KNOWN
                yield Exit(code=status.code if known else None, reason=status.reason, message=status.message)
                # The exit is the last message. Do not wait for the RPC's status: grpc reports INTERNAL instead of
                # OK when a write (stdin that raced the end) reached a call the provider had finished.
                return

    def close(self) -> None:
        """End the session (cancels the RPC if it still runs)."""
        self._call.cancel()


async def open_exec(
    client: ProviderClient,
    *,
    pod: PodTarget,
    container: str,
    command: list[str],
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    terminal_size: TerminalSize | None = None,
) -> ContainerSession:
    """Start ``command`` in the container; returns once it runs. Raises :class:`ProviderError`."""
    start = streaming_pb2.ExecStart(
        pod=pod_ref(pod.uid, pod.namespace, pod.name),
        container=container,
        command=command,
        tty=tty,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        initial_terminal_size=_size(terminal_size),
    )
    call = _Call(_stub(client).Exec, streaming_pb2.ExecRequest(start=start))
    await call.started("exec")
    return ContainerSession(call, streaming_pb2.ExecRequest)


async def open_attach(
    client: ProviderClient,
    *,
    pod: PodTarget,
    container: str,
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    terminal_size: TerminalSize | None = None,
) -> ContainerSession:
    """Attach to the container's main process; returns once attached. Raises :class:`ProviderError`."""
    start = streaming_pb2.AttachStart(
        pod=pod_ref(pod.uid, pod.namespace, pod.name),
        container=container,
        tty=tty,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        initial_terminal_size=_size(terminal_size),
    )
    call = _Call(_stub(client).Attach, streaming_pb2.AttachRequest(start=start))
    await call.started("attach")
    return ContainerSession(call, streaming_pb2.AttachRequest)


class PortConnection:
    """One TCP connection to a port of a pod."""

    def __init__(self, call: _Call[streaming_pb2.PortForwardRequest, streaming_pb2.PortForwardResponse]) -> None:
        self._call = call

    async def write(self, data: bytes) -> None:
        if data:
            await self._call.write(streaming_pb2.PortForwardRequest(data=data))

    async def close_write(self) -> None:
        """The user's side sends no more data (TCP half-close)."""
        await self._call.write(streaming_pb2.PortForwardRequest(close_write=streaming_pb2.CloseWrite()))
        await self._call.done_writing()

    async def read(self) -> bytes | None:
        """The next bytes from the pod, or None once the pod's side closed. Raises :class:`ProviderError` if the
        connection broke."""
        while (message := await self._call.read()) is not None:
            kind = message.WhichOneof("payload")
            if kind == "data":
                if message.data:
                    return message.data
            elif kind == "close_write":
                return None
        return None

    def close(self) -> None:
        self._call.cancel()


async def open_port_forward(client: ProviderClient, *, pod: PodTarget, port: int) -> PortConnection:
    """Connect to ``port`` in the pod; returns once connected. Raises :class:`ProviderError`."""
    start = streaming_pb2.PortForwardStart(pod=pod_ref(pod.uid, pod.namespace, pod.name), port=port)
    call = _Call(_stub(client).PortForward, streaming_pb2.PortForwardRequest(start=start))
    await call.started("port-forward")
    return PortConnection(call)


__all__ = [
    "ContainerSession",
    "Exit",
    "Output",
    "PodTarget",
    "PortConnection",
    "ProviderError",
    "TerminalSize",
    "open_attach",
    "open_exec",
    "open_port_forward",
]

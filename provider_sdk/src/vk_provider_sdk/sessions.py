"""Exec, attach and port-forward as plain objects, so a provider never touches a gRPC stream.

A provider's ``exec(session)`` reads ``session.start`` (the ExecStart message), reads standard input with
:meth:`ContainerSession.read_stdin` (or ``async for chunk in session.stdin()``), writes with
:meth:`ContainerSession.write_stdout` / :meth:`ContainerSession.write_stderr`, may look at terminal resizes, and
returns an ``ExitStatus`` (see :func:`exit_status`). The server sends ``started``, the output and the exit in the
order the protocol requires.

Design decisions:

- **The session applies the request's stream choices.** With a tty, stderr goes to stdout; output the user did not
  ask for is dropped; stdin the user does not send reads as an immediate end of file. Providers write what the
  process writes and need no branches for these cases.
- **``started`` is sent on the first output at the latest**, or explicitly with :meth:`started` once the backend
  session is established (so that errors before it still reach the user as proper errors). Errors raised before
  ``started`` end the RPC with their status; that is the protocol's way to refuse a session.
- **Back-pressure both ways.** Output goes through a small bounded queue drained by the gRPC stream, so a provider
  writing faster than the user reads waits; stdin is read from the stream only as fast as the provider consumes it
  (up to a small buffer). Terminal resizes are coalesced: only the latest size matters.
- **Cancellation is the end of the session.** When the user goes away the server cancels the provider's task; the
  provider cleans up in ``finally`` blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

from virtualkubelet.provider.v1 import pod_pb2, streaming_pb2

_STDIN_BUFFER = 16  # chunks of stdin read ahead of the provider (chunks are at most 32 KiB)
_OUTPUT_BUFFER = 16  # messages waiting for the gRPC stream

T = TypeVar("T")
OutT = TypeVar("OutT", streaming_pb2.ExecResponse, streaming_pb2.AttachResponse)


def exit_status(code: int | None, *, reason: str = "", message: str = "") -> streaming_pb2.ExitStatus:
    """An ExitStatus: KNOWN with ``code``, or UNKNOWN when ``code`` is None."""
    if code is None:
        return streaming_pb2.ExitStatus(state=streaming_pb2.EXIT_STATUS_STATE_UNKNOWN, reason=reason, message=message)
    known = streaming_pb2.EXIT_STATUS_STATE_KNOWN
    return streaming_pb2.ExitStatus(state=known, code=code, reason=reason, message=message)


class _Outbox(Generic[T]):
    """The messages for the gRPC stream, in order, with ``started`` first."""

    def __init__(self, started: T) -> None:
        self._queue: asyncio.Queue[T | None] = asyncio.Queue(_OUTPUT_BUFFER)
        self._started_message = started
        self.is_started = False

    async def started(self) -> None:
        if not self.is_started:
            self.is_started = True
            await self._queue.put(self._started_message)

    async def put(self, message: T) -> None:
        await self.started()
        await self._queue.put(message)

    async def get(self) -> T | None:
        return await self._queue.get()

    def get_nowait(self) -> T | None:
        """The next message, or None if there is none now."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None


class _Inbox:
    """Standard input and resizes, read from the request stream only as fast as the provider consumes stdin."""

    def __init__(self, *, open_: bool) -> None:
        self._stdin: asyncio.Queue[bytes | None] = asyncio.Queue(_STDIN_BUFFER)
        self._eof = False
        self._eof_queued = False
        self._size: streaming_pb2.TerminalSize | None = None
        self._resized = asyncio.Event()
        if not open_:
            self.end()

    async def feed(self, message: streaming_pb2.StreamInput) -> None:
        kind = message.WhichOneof("input")
        if kind == "stdin":
            await self.put(message.stdin)
        elif kind == "close_stdin":
            self.end()
        elif kind == "resize":
            self.resize(message.resize)

    async def put(self, data: bytes) -> None:
        if not self._eof and data:
            await self._stdin.put(data)

    def resize(self, size: streaming_pb2.TerminalSize) -> None:
        self._size = size
        self._resized.set()

    def end(self) -> None:
        """The end of input; never waits (the end marker follows the buffered chunks as soon as there is room)."""
        self._eof = True
        self._queue_eof()

    def _queue_eof(self) -> None:
        if self._eof and not self._eof_queued and not self._stdin.full():
            self._eof_queued = True
            self._stdin.put_nowait(None)

    async def read(self) -> bytes | None:
        chunk = await self._stdin.get()
        if chunk is None:
            self._stdin.put_nowait(None)  # every later read sees the end too
        else:
            self._queue_eof()
        return chunk

    async def next_size(self) -> streaming_pb2.TerminalSize:
        await self._resized.wait()
        self._resized.clear()
        assert self._size is not None
        return self._size


class ContainerSession(Generic[OutT]):
    """What exec and attach sessions share: a container, standard streams, a terminal."""

    def __init__(
        self,
        *,
        pod: pod_pb2.PodRef,
        container: str,
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        terminal_size: streaming_pb2.TerminalSize | None,
        outbox: _Outbox[OutT],
        wrap: type[OutT],
    ) -> None:
        self.pod = pod
        self.container = container
        self.tty = tty
        self.wants_stdin = stdin
        self.wants_stdout = stdout
        self.wants_stderr = stderr and not tty
        #: The latest terminal size (initial size, then resizes), or None.
        self.terminal_size = terminal_size
        self._outbox: _Outbox[OutT] = outbox
        self._inbox = _Inbox(open_=stdin)
        self._wrap: type[OutT] = wrap
        if terminal_size is not None:
            self._inbox._size = terminal_size

    async def started(self) -> None:
        """Tell the user the session is established (sent automatically with the first output)."""
        await self._outbox.started()

    async def write_stdout(self, data: bytes) -> None:
        """Send bytes the process wrote to standard output (dropped if the user did not ask for stdout)."""
        if data and self.wants_stdout:
            await self._outbox.put(self._wrap(output=streaming_pb2.StreamOutput(stdout=data)))

    async def write_stderr(self, data: bytes) -> None:
        """Send bytes the process wrote to standard error (to stdout with a tty; dropped if not asked for)."""
        if not data:
            return
        if self.tty:
            await self.write_stdout(data)
        elif self.wants_stderr:
            await self._outbox.put(self._wrap(output=streaming_pb2.StreamOutput(stderr=data)))

    async def read_stdin(self) -> bytes | None:
        """The next chunk of standard input, or None at its end (at once if the user sends no stdin)."""
        return await self._inbox.read()

    async def stdin(self) -> AsyncIterator[bytes]:
        """Standard input chunk by chunk, until its end."""
        while (chunk := await self.read_stdin()) is not None:
            yield chunk

    async def resizes(self) -> AsyncIterator[streaming_pb2.TerminalSize]:
        """Terminal sizes as the user resizes (coalesced: only the latest size is kept while nobody reads)."""
        while True:
            size = await self._inbox.next_size()
            self.terminal_size = size
            yield size


class ExecSession(ContainerSession[streaming_pb2.ExecResponse]):
    """An exec session: ``start.command`` in ``start.container`` of ``start.pod``."""

    def __init__(self, start: streaming_pb2.ExecStart) -> None:
        super().__init__(
            pod=start.pod,
            container=start.container,
            tty=start.tty,
            stdin=start.stdin,
            stdout=start.stdout,
            stderr=start.stderr,
            terminal_size=start.initial_terminal_size if start.HasField("initial_terminal_size") else None,
            outbox=_Outbox(streaming_pb2.ExecResponse(started=streaming_pb2.SessionStarted())),
            wrap=streaming_pb2.ExecResponse,
        )
        self.start = start

    @property
    def command(self) -> list[str]:
        return list(self.start.command)


class AttachSession(ContainerSession[streaming_pb2.AttachResponse]):
    """An attach session to the main process of ``start.container``."""

    def __init__(self, start: streaming_pb2.AttachStart) -> None:
        super().__init__(
            pod=start.pod,
            container=start.container,
            tty=start.tty,
            stdin=start.stdin,
            stdout=start.stdout,
            stderr=start.stderr,
            terminal_size=start.initial_terminal_size if start.HasField("initial_terminal_size") else None,
            outbox=_Outbox(streaming_pb2.AttachResponse(started=streaming_pb2.SessionStarted())),
            wrap=streaming_pb2.AttachResponse,
        )
        self.start = start


class PortForwardConnection:
    """One TCP connection to ``start.port`` of ``start.pod``: bytes in, bytes out, half-close both ways."""

    def __init__(self, start: streaming_pb2.PortForwardStart) -> None:
        self.start = start
        self.pod = start.pod
        self.port = start.port
        self._outbox: _Outbox[streaming_pb2.PortForwardResponse] = _Outbox(
            streaming_pb2.PortForwardResponse(started=streaming_pb2.SessionStarted())
        )
        self._inbox = _Inbox(open_=True)
        self._write_closed = False

    async def started(self) -> None:
        """The connection to the port is open (sent automatically with the first data)."""
        await self._outbox.started()

    async def read(self) -> bytes | None:
        """The next bytes from the user, or None once the user half-closed the connection."""
        return await self._inbox.read()

    async def incoming(self) -> AsyncIterator[bytes]:
        """Bytes from the user until the user half-closes."""
        while (chunk := await self.read()) is not None:
            yield chunk

    async def write(self, data: bytes) -> None:
        """Send bytes read from the pod's side."""
        if self._write_closed:
            raise RuntimeError("write after close_write")
        if data:
            await self._outbox.put(streaming_pb2.PortForwardResponse(data=data))

    async def close_write(self) -> None:
        """The pod's side sends no more data (sent at most once; also sent when the provider returns)."""
        if not self._write_closed:
            self._write_closed = True
            await self._outbox.put(streaming_pb2.PortForwardResponse(close_write=streaming_pb2.CloseWrite()))


__all__ = ["AttachSession", "ContainerSession", "ExecSession", "PortForwardConnection", "exit_status"]

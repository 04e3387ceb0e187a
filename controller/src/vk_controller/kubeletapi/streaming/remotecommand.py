"""Exec and attach, whatever the transport: the query, the user's streams, the status at the end, and the bridge
between the user's streams and the provider's session.

The user's side is a :class:`UserStreams` (stdin, stdout, stderr, the error/status stream and terminal resizes);
:class:`WebSocketStreams` maps it onto channels 0-4 of a WebSocket and :class:`SpdyStreams` onto SPDY streams
named by their ``streamType`` header. :func:`bridge` then copies in both directions and ends with the status, the
same way for both.

The status follows the kubelet: nothing on success and the message on failure for protocols v1-v3; a
``metav1.Status`` in JSON from v4 on, where a non-zero exit is ``reason: NonZeroExitCode`` with a cause whose
``reason`` (the wire name of the cause type) is ``ExitCode`` and whose message is the code. An exit status the
provider cannot know is reported as a failure that says so, never as success. Attach, like the kubelet's, ends in
success whatever the main process did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from vk_controller.kubeletapi.streaming import spdy
from vk_controller.kubeletapi.streaming.errors import RequestRefused
from vk_controller.kubeletapi.streaming.websocket import ChannelConnection
from vk_controller.provider.sessions import ContainerSession, Exit, Output, TerminalSize
from vk_provider_sdk.errors import ProviderError

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4

#: SPDY ``X-Stream-Protocol-Version`` values for exec and attach, with their versions (no v5 over SPDY).
SPDY_PROTOCOLS = {"v4.channel.k8s.io": 4, "v3.channel.k8s.io": 3, "v2.channel.k8s.io": 2, "channel.k8s.io": 1}
#: How long the client has to open its SPDY streams after the upgrade.
STREAM_CREATION_TIMEOUT = 30.0


@dataclass(frozen=True)
class Options:
    """Which standard streams the user wants, and whether there is a terminal."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name) == "1"  # only the exact string "1" counts, as in the kubelet


def options_from_query(query: Mapping[str, str], *, tty: bool | None = None) -> Options:
    """The stream options of an exec or attach request (``input``, ``output``, ``error``, ``tty``). ``tty``
    overrides the query (attach uses the container's own). With a terminal there is no separate stderr."""
    stdin, stdout, stderr = _flag(query, "input"), _flag(query, "output"), _flag(query, "error")
    if not (stdin or stdout or stderr):
        raise RequestRefused(400, "you must specify at least 1 of stdin, stdout, stderr")
    terminal = _flag(query, "tty") if tty is None else tty
    return Options(stdin=stdin, stdout=stdout, stderr=stderr and not terminal, tty=terminal)


# -- the status at the end ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStatus:
    success: bool
    message: str = ""
    #: NonZeroExitCode or InternalError for failures.
    reason: str = ""
    exit_code: int | None = None


SUCCESS = SessionStatus(success=True)


def failure(message: str) -> SessionStatus:
    return SessionStatus(success=False, message=f"Internal error occurred: {message}", reason="InternalError")


def status_for_exit(exit: Exit | None, *, what: Literal["exec", "attach"], exit_status: bool) -> SessionStatus:
    """The status for how the provider's session ended (``exit`` None: it sent no exit status).

    Attach ends in success however the main process ended, as the kubelet's does: clients read the container's
    exit code from the pod's status (``kubectl run --rm`` would otherwise stop before deleting its pod)."""
    if what == "attach":
        return SUCCESS
    if exit is None:
        return failure("the provider ended the session without an exit status")
    if exit.code is None:
        why = "the provider cannot report exit codes" if not exit_status else "the provider could not tell"
        detail = f" ({exit.reason}: {exit.message})" if exit.reason or exit.message else ""
        return failure(f"the exit status of the command is unknown: {why}{detail}")
    if exit.code == 0:
        return SUCCESS
    # Clients parse the code as an unsigned byte; a provider that reports more has a bug, but the user still
    # learns that the command failed.
    code = exit.code if 0 < exit.code < 256 else 255
    detail = f": {exit.message}" if exit.message else ""
    return SessionStatus(
        success=False,
        message=f"command terminated with non-zero exit code: exit code {exit.code}{detail}",
        reason="NonZeroExitCode",
        exit_code=code,
    )


def encode_status(status: SessionStatus, version: int) -> bytes:
    """What goes on the error stream: JSON ``metav1.Status`` from v4 on, the failure message (or nothing) before."""
    if version < 4:
        return b"" if status.success else status.message.encode()
    body: dict[str, Any] = {"metadata": {}, "status": "Success" if status.success else "Failure"}
    if not status.success:
        body["message"] = status.message
        body["reason"] = status.reason
        if status.exit_code is not None:
            body["details"] = {"causes": [{"reason": "ExitCode", "message": str(status.exit_code)}]}
        else:
            body["code"] = 500
            body["details"] = {"causes": [{"message": status.message}]}
    return json.dumps(body, separators=(",", ":")).encode()


# -- terminal resizes ---------------------------------------------------------------------------------------------


class ResizeDecoder:
    """Terminal sizes from a stream of JSON objects ``{"Width": w, "Height": h}``: one message may carry part of an
    object or several. Keys match case-insensitively (as Go decodes them); a missing one is 0; objects without
    either, or with values that are not 16-bit sizes, are skipped."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, data: bytes) -> list[TerminalSize]:
        self._buffer += data.decode("utf-8", "replace")
        sizes: list[TerminalSize] = []
        while (start := self._buffer.find("{")) >= 0:
            end = _object_end(self._buffer, start)
            if end is None:
                self._buffer = self._buffer[start:]
                if len(self._buffer) > 4096:  # not a size: give up on it
                    self._buffer = ""
                return sizes
            size = _size(self._buffer[start:end])
            if size is not None:
                sizes.append(size)
            self._buffer = self._buffer[end:]
        self._buffer = ""
        return sizes


def _object_end(text: str, start: int) -> int | None:
    """The index just after the JSON object starting at ``start``, or None if it is not complete yet."""
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _size(text: str) -> TerminalSize | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    fields = {str(key).lower(): item for key, item in value.items()}
    if "width" not in fields and "height" not in fields:
        return None
    width, height = fields.get("width", 0), fields.get("height", 0)
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 65536 for n in (width, height)):
        return None
    return TerminalSize(width=width, height=height)


# -- the user's side ----------------------------------------------------------------------------------------------


class UserStreams(Protocol):
    """The user's end of an exec or attach session, whatever the transport."""

    async def read_stdin(self) -> bytes | None:
        """The next bytes of stdin, or None at its end."""
        ...

    async def read_resize(self) -> bytes | None:
        """The next bytes of the resize stream, or None at its end."""
        ...

    async def write_stdout(self, data: bytes) -> None: ...

    async def write_stderr(self, data: bytes) -> None: ...

    async def finish(self, status: SessionStatus) -> None:
        """Send the status, end every stream and close the connection."""
        ...

    async def wait_gone(self) -> None:
        """Return when the user's connection has closed."""
        ...


class WebSocketStreams:
    """Channels 0-4 of a WebSocket channel protocol."""

    def __init__(self, channels: ChannelConnection, options: Options) -> None:
        self._channels = channels
        self._options = options

    async def start(self) -> None:
        """Tell the client the session is up: one empty message on the lowest channel it reads."""
        first = STDOUT if self._options.stdout else STDERR if self._options.stderr else ERROR
        await self._channels.write(first, b"")

    async def read_stdin(self) -> bytes | None:
        return await self._channels.read(STDIN)

    async def read_resize(self) -> bytes | None:
        return await self._channels.read(RESIZE)

    async def write_stdout(self, data: bytes) -> None:
        await self._channels.write(STDOUT, data)

    async def write_stderr(self, data: bytes) -> None:
        await self._channels.write(STDERR, data)

    async def finish(self, status: SessionStatus) -> None:
        message = encode_status(status, self._channels.protocol.version)
        if message:
            await self._channels.write(ERROR, message)
        await self._channels.close()

    async def wait_gone(self) -> None:
        await self._channels.gone.wait()


class SpdyStreams:
    """SPDY streams opened by the client, one per ``streamType``. Pass :meth:`on_stream` to the connection, then
    :meth:`wait_ready` for the streams the options call for."""

    KNOWN = ("error", "stdin", "stdout", "stderr", "resize")

    def __init__(self, options: Options, version: int) -> None:
        self.version = version
        self.connection: spdy.SpdyConnection | None = None
        self._streams: dict[str, spdy.SpdyStream] = {}
        self._expected = {"error"}
        if options.stdin:
            self._expected.add("stdin")
        if options.stdout:
            self._expected.add("stdout")
        if options.stderr:
            self._expected.add("stderr")
        if options.tty and version >= 3:
            self._expected.add("resize")
        self._ready = asyncio.Event()

    def on_stream(self, stream: spdy.SpdyStream) -> None:
        kind = stream.header("streamtype")
        stream.reply()
        if kind not in self.KNOWN or kind in self._streams:
            log.info("ignoring SPDY stream %d of type %r", stream.id, kind)
            return
        self._streams[kind] = stream
        if self._expected <= self._streams.keys():
            self._ready.set()

    async def wait_ready(self, within: float = STREAM_CREATION_TIMEOUT) -> bool:
        """True once every expected stream exists; False after ``within`` seconds or if the connection closed."""
        assert self.connection is not None
        ready = asyncio.ensure_future(self._ready.wait())
        closed = asyncio.ensure_future(self.connection.wait_closed())
        try:
            await asyncio.wait({ready, closed}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            closed.cancel()
        return self._ready.is_set() and not self.connection.closed

    async def _read(self, kind: str) -> bytes | None:
        stream = self._streams.get(kind)
        return None if stream is None else await stream.read()

    async def read_stdin(self) -> bytes | None:
        return await self._read("stdin")

    async def read_resize(self) -> bytes | None:
        return await self._read("resize")

    async def write_stdout(self, data: bytes) -> None:
        if stream := self._streams.get("stdout"):
            await stream.write(data)

    async def write_stderr(self, data: bytes) -> None:
        if stream := self._streams.get("stderr"):
            await stream.write(data)

    async def finish(self, status: SessionStatus) -> None:
        assert self.connection is not None
        for kind in ("stdout", "stderr"):
            if stream := self._streams.get(kind):
                stream.close_write()
        if error := self._streams.get("error"):
            message = encode_status(status, self.version)
            if message:
                await error.write(message)
            error.close_write()
        self.connection.close()

    async def wait_gone(self) -> None:
        assert self.connection is not None
        await self.connection.wait_closed()


# -- the bridge ---------------------------------------------------------------------------------------------------


async def bridge(
    user: UserStreams,
    session: ContainerSession,
    *,
    options: Options,
    what: Literal["exec", "attach"],
    resize: bool,
    exit_status: bool,
) -> None:
    """Copy the user's input to the session and its output to the user until the session ends (then send the
    status) or the user goes away (then end the session)."""

    async def pump_stdin() -> None:
        while (chunk := await user.read_stdin()) is not None:
            await session.send_stdin(chunk)
        await session.close_stdin()

    async def pump_resizes() -> None:
        decoder = ResizeDecoder()
        while (chunk := await user.read_resize()) is not None:
            for size in decoder.feed(chunk):
                if resize:
                    await session.resize(size)

    async def pump_output() -> SessionStatus:
        exit: Exit | None = None
        try:
            async for event in session:
                if isinstance(event, Output):
                    # With a terminal there is only one output stream.
                    if event.stream == "stderr" and not options.tty:
                        if options.stderr:
                            await user.write_stderr(event.data)
                    elif options.stdout:
                        await user.write_stdout(event.data)
                else:
                    exit = event
        except ProviderError as error:
            return failure(error.message)
        return status_for_exit(exit, what=what, exit_status=exit_status)

    helpers = []
    if options.stdin:
        helpers.append(asyncio.create_task(pump_stdin(), name=f"{what}-stdin"))
    if options.tty:
        helpers.append(asyncio.create_task(pump_resizes(), name=f"{what}-resize"))
    output = asyncio.create_task(pump_output(), name=f"{what}-output")
    gone = asyncio.create_task(user.wait_gone(), name=f"{what}-gone")
    try:
        await asyncio.wait({output, gone}, return_when=asyncio.FIRST_COMPLETED)
        if output.done():
            error = output.exception()
            if error is not None:
                log.warning("%s: relaying the output failed: %r", what, error)
            await user.finish(output.result() if error is None else failure(f"relaying the output failed: {error}"))
        else:
            log.debug("%s: the user went away; ending the session", what)
    finally:
        session.close()
        for task in (*helpers, output, gone):
            task.cancel()
        for task in (*helpers, output, gone):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = [
    "SPDY_PROTOCOLS",
    "SUCCESS",
    "Options",
    "ResizeDecoder",
    "SessionStatus",
    "SpdyStreams",
    "UserStreams",
    "WebSocketStreams",
    "bridge",
    "encode_status",
    "failure",
    "options_from_query",
    "status_for_exit",
]

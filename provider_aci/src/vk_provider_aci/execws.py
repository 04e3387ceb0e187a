"""Exec: the protocol's exec session bridged to ACI's exec WebSocket.

ACI runs a command with ``POST .../containers/{c}/exec`` (``{command, terminalSize: {rows, cols}}``), which answers
``{webSocketUri, password}``. The client opens the WebSocket, sends the password as its first text message, then
sends standard input as text messages and receives the output as text or binary messages until ACI closes the
connection when the command ends. What follows from that protocol:

- **One command string.** ACI takes the command as one string; the argv is joined with shell quoting
  (``shlex.join``), so ``["sh", "-c", "exit 3"]`` is sent as ``sh -c 'exit 3'``.
- **Always a terminal.** ACI sizes a terminal for every command (the initial size, or 80x24 when the user gave
  none); it cannot be resized mid-session, so ``resize`` is not declared and the controller drops resizes.
- **Output is one stream.** stdout and stderr arrive mixed, so everything is written as stdout
  (``separate_stderr`` is not declared). Text messages are UTF-8 encoded; binary ones pass unchanged.
- **End of stdin is Ctrl-D.** The WebSocket has no half-close, so when the user's stdin ends (at once when the
  user sends none) the bridge sends ``\\x04``, the terminal's end-of-file character; ``cat`` then ends as it would
  at a terminal. Stdin bytes are decoded incrementally as UTF-8 (invalid bytes become U+FFFD) and sent as text.
- **No exit code.** The connection just closes; the session ends with ``EXIT_STATUS_STATE_UNKNOWN`` (``exit_status``
  is not declared), and the controller tells the user the exit status is unknown.
- **Cancellation** (the user went away) closes the WebSocket; ACI may let the command run to its end.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import shlex
import ssl

import aiohttp

from virtualkubelet.provider.v1 import streaming_pb2
from vk_provider_sdk import errors
from vk_provider_sdk.sessions import ExecSession, exit_status

log = logging.getLogger(__name__)

#: The terminal size sent when the user's is unknown (ACI sizes a terminal for every command).
DEFAULT_ROWS, DEFAULT_COLS = 24, 80
#: End of input at a terminal (Ctrl-D): what the bridge sends when the user's stdin ends.
EOF = "\x04"
#: The reason of the UNKNOWN exit status every ACI exec session ends with.
UNKNOWN_REASON = "ExitCodeNotReported"
UNKNOWN_MESSAGE = "Azure Container Instances does not report the exit codes of exec commands"
#: Seconds to open the WebSocket.
CONNECT_TIMEOUT = 30.0


def command_line(argv: list[str]) -> str:
    """The argv as the single command string ACI takes."""
    return shlex.join(argv)


def exec_request(session: ExecSession) -> dict[str, object]:
    """The ``ContainerExecRequest`` body for the session."""
    size = session.terminal_size
    rows = size.height if size is not None and size.height else DEFAULT_ROWS
    cols = size.width if size is not None and size.width else DEFAULT_COLS
    return {"command": command_line(session.command), "terminalSize": {"rows": rows, "cols": cols}}


async def bridge(
    session: ExecSession, web_socket_uri: str, password: str, *, ssl_context: ssl.SSLContext | None
) -> streaming_pb2.ExitStatus:
    """Run the session over ACI's WebSocket until ACI closes it; the exit status is always UNKNOWN."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        try:
            socket = await http.ws_connect(web_socket_uri, ssl=ssl_context if ssl_context is not None else True)
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise errors.Unavailable(
                f"connecting to the exec WebSocket of container {session.container!r}: {error}",
                reason="ExecWebSocketFailed",
            ) from error
        async with socket:
            await socket.send_str(password)
            await session.started()
            sender = asyncio.get_running_loop().create_task(_send_stdin(session, socket))
            try:
                async for message in socket:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        await session.write_stdout(str(message.data).encode())
                    elif message.type == aiohttp.WSMsgType.BINARY:
                        await session.write_stdout(bytes(message.data))
                    elif message.type == aiohttp.WSMsgType.ERROR:
                        log.warning("the exec WebSocket of %s failed: %s", session.container, socket.exception())
                        break
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
    return exit_status(None, reason=UNKNOWN_REASON, message=UNKNOWN_MESSAGE)


async def _send_stdin(session: ExecSession, socket: aiohttp.ClientWebSocketResponse) -> None:
    """The user's stdin as text messages, then Ctrl-D; stops quietly once ACI closed the connection."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    try:
        async for chunk in session.stdin():
            text = decoder.decode(chunk)
            if text:
                await socket.send_str(text)
        await socket.send_str(decoder.decode(b"", final=True) + EOF)
    except (ConnectionError, aiohttp.ClientError, RuntimeError):
        pass  # the command ended and ACI closed the connection first


__all__ = ["EOF", "UNKNOWN_MESSAGE", "UNKNOWN_REASON", "bridge", "command_line", "exec_request"]

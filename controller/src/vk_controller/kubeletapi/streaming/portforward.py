"""Port-forward: TCP connections into a pod, each one a provider ``PortForward`` session.

Two shapes on the wire:

- **SPDY** (``portforward.k8s.io``, also tunnelled through a WebSocket): the client opens a *data* and an *error*
  stream per connection, both with headers ``port`` and ``requestID``; streams are paired by ``requestID`` (not by
  arrival order) and the forward starts when both exist. The connection carries any number of pairs. On failure
  the message goes to the error stream, which the client reads to its end.
- **WebSocket channels** (the legacy protocol): the ports come from the ``port=`` query, port *i* gets channel 2i
  for data and 2i+1 for errors, and the server first writes each port as 2 little-endian bytes on both of its
  channels. One connection per port, for the life of the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from vk_controller.kubeletapi.streaming import spdy
from vk_controller.kubeletapi.streaming.errors import RequestRefused
from vk_controller.kubeletapi.streaming.websocket import ChannelConnection
from vk_controller.provider.sessions import PortConnection
from vk_provider_sdk.errors import ProviderError

log = logging.getLogger(__name__)

SPDY_PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
#: How long the second stream of a pair may take.
PAIR_TIMEOUT = 30.0

#: Opens a connection to a port of the pod (raises ProviderError).
Connect = Callable[[int], Awaitable[PortConnection]]


def ports_from_query(values: Sequence[str]) -> list[int]:
    """The ports of a WebSocket port-forward: ``port=`` repeated and/or comma-separated, each 1-65535."""
    ports: list[int] = []
    for value in values:
        for part in value.split(","):
            text = part.strip()
            try:
                port = int(text, 10)
            except ValueError:
                raise RequestRefused(400, f'unable to parse "{text}" as a port') from None
            if not 0 < port < 65536:
                raise RequestRefused(400, f"port {text} must be between 1 and 65535")
            ports.append(port)
    if not ports:
        raise RequestRefused(400, 'query parameter "port" is required')
    return ports


def port_preamble(port: int) -> bytes:
    return port.to_bytes(2, "little")


@dataclass(frozen=True)
class Target:
    """What the user sees in error messages."""

    pod: str
    uid: str

    def error(self, port: int, message: str) -> str:
        return f"error forwarding port {port} to pod {self.pod}, uid {self.uid}: {message}"


async def _forward(
    connection: PortConnection,
    *,
    read_user: Callable[[], Awaitable[bytes | None]],
    write_user: Callable[[bytes], Awaitable[object]],
    user_gone: Callable[[], bool],
) -> str | None:
    """Copy both ways until the pod's side is done; the error message if the connection broke."""

    async def upstream() -> None:
        while (chunk := await read_user()) is not None:
            await connection.write(chunk)
        if user_gone():
            connection.close()
        else:
            await connection.close_write()

    sending = asyncio.create_task(upstream())
    try:
        while (chunk := await connection.read()) is not None:
            await write_user(chunk)
        return None
    except ProviderError as error:
        return None if user_gone() else error.message
    finally:
        # The pod's side is done (or broke). The user may still be sending, but nothing would read it any more.
        sending.cancel()
        connection.close()
        with contextlib.suppress(asyncio.CancelledError, ProviderError):
            await sending


# -- SPDY -----------------------------------------------------------------------------------------------------------


@dataclass
class _Pair:
    request_id: str
    port: int
    data: spdy.SpdyStream | None = None
    error: spdy.SpdyStream | None = None
    timer: asyncio.TimerHandle | None = None


class SpdyPortForward:
    """Serves the stream pairs of one SPDY connection. Give :meth:`on_stream` to the connection; :meth:`close` when
    the connection has ended."""

    def __init__(self, connect: Connect, target: Target) -> None:
        self._connect = connect
        self._target = target
        self._pairs: dict[str, _Pair] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: spdy.SpdyStream) -> None:
        kind = stream.header("streamtype")
        port_text = stream.header("port")
        try:
            port = int(port_text, 10)
        except ValueError:
            port = 0
        if kind not in ("data", "error") or not 0 < port < 65536:
            log.info("port-forward: refusing stream %d (streamType %r, port %r)", stream.id, kind, port_text)
            stream.reset()
            return
        request_id = stream.header("requestid") or str(stream.id if kind == "error" else stream.id - 2)
        stream.reply()
        pair = self._pairs.get(request_id)
        if pair is None:
            pair = self._pairs[request_id] = _Pair(request_id, port)
            pair.timer = asyncio.get_running_loop().call_later(PAIR_TIMEOUT, self._incomplete, request_id)
        if (pair.data if kind == "data" else pair.error) is not None:
            log.info("port-forward: a second %s stream for request %s", kind, request_id)
            stream.reset()
            return
        if kind == "data":
            pair.data = stream
        else:
            pair.error = stream
        if pair.data is not None and pair.error is not None:
            if pair.timer is not None:
                pair.timer.cancel()
            task = asyncio.create_task(self._serve(pair), name=f"port-forward-{port}-{request_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _incomplete(self, request_id: str) -> None:
        pair = self._pairs.pop(request_id, None)
        if pair is None:
            return
        if pair.error is not None:
            message = self._target.error(pair.port, "timed out waiting for the data and error streams")
            task = asyncio.create_task(self._fail(pair.error, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if pair.data is not None:
            pair.data.reset()

    async def _fail(self, stream: spdy.SpdyStream, message: str) -> None:
        await stream.write(message.encode())
        stream.close_write()

    async def _serve(self, pair: _Pair) -> None:
        data, error = pair.data, pair.error
        assert data is not None
        assert error is not None
        try:
            try:
                connection = await self._connect(pair.port)
            except ProviderError as failure:
                await error.write(self._target.error(pair.port, failure.message).encode())
                return
            broken = await _forward(
                connection,
                read_user=data.read,
                write_user=data.write,
                user_gone=lambda: data.was_reset or data.connection_closed,
            )
            if broken is not None:
                await error.write(self._target.error(pair.port, broken).encode())
        finally:
            data.close_write()
            error.close_write()
            self._pairs.pop(pair.request_id, None)

    async def close(self) -> None:
        for pair in self._pairs.values():
            if pair.timer is not None:
                pair.timer.cancel()
        self._pairs.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# -- WebSocket channels ---------------------------------------------------------------------------------------------


async def serve_websocket(
    channels: ChannelConnection, *, ports: Sequence[int], connect: Connect, target: Target
) -> None:
    """Forward one connection per port until all are done or the client goes; the caller runs ``channels.run()``
    and closes the socket afterwards."""
    for index, port in enumerate(ports):
        await channels.write(2 * index, port_preamble(port))
        await channels.write(2 * index + 1, port_preamble(port))

    async def forward(index: int, port: int) -> None:
        try:
            connection = await connect(port)
        except ProviderError as failure:
            await channels.write(2 * index + 1, target.error(port, failure.message).encode())
            return

        async def read_user() -> bytes | None:
            return await channels.read(2 * index)

        async def write_user(data: bytes) -> bool:
            return await channels.write(2 * index, data)

        broken = await _forward(connection, read_user=read_user, write_user=write_user, user_gone=channels.gone.is_set)
        if broken is not None:
            await channels.write(2 * index + 1, target.error(port, broken).encode())

    forwards = [asyncio.create_task(forward(index, port)) for index, port in enumerate(ports)]
    gone = asyncio.create_task(channels.gone.wait())

    async def all_done() -> None:
        await asyncio.gather(*forwards)

    everything = asyncio.create_task(all_done())
    try:
        await asyncio.wait({everything, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*forwards, gone, everything):
            task.cancel()
        for task in (*forwards, gone, everything):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


__all__ = [
    "PAIR_TIMEOUT",
    "SPDY_PROTOCOL",
    "TUNNEL_PROTOCOL",
    "Connect",
    "SpdyPortForward",
    "Target",
    "port_preamble",
    "ports_from_query",
    "serve_websocket",
]

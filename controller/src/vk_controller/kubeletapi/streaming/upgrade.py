"""Taking over an aiohttp request for a streaming protocol: WebSocket (aiohttp does it), SPDY/3.1 (we answer 101
and read and write the raw connection ourselves), and SPDY tunnelled through WebSocket messages.

aiohttp only switches its parser off for ``Upgrade: websocket``. For SPDY the handler installs its own payload
parser on the request's protocol before sending the 101, so every byte that follows goes to the SPDY connection
and none to the HTTP parser; the response is marked ``force_close`` so that aiohttp closes the connection when the
handler returns instead of parsing another request from it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from vk_controller.kubeletapi import authn
from vk_controller.kubeletapi.streaming import spdy, websocket
from vk_controller.kubeletapi.streaming.errors import RequestRefused

SPDY_UPGRADE = "SPDY/3.1"
#: kubectl's port-forward offers SPDY through a WebSocket as the subprotocol ``SPDY/3.1+portforward.k8s.io``.
TUNNEL_PREFIX = "SPDY/3.1+"
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
#: WebSocket messages may be this large (the kubelet allows much more than aiohttp's 4 MiB default).
MAX_MESSAGE = 32 << 20


def _connection_upgrade(request: web.Request) -> bool:
    tokens = {token.strip().lower() for value in request.headers.getall("Connection", []) for token in value.split(",")}
    return "upgrade" in tokens


def is_websocket(request: web.Request) -> bool:
    return _connection_upgrade(request) and request.headers.get("Upgrade", "").lower() == "websocket"


def is_spdy(request: web.Request) -> bool:
    return _connection_upgrade(request) and SPDY_UPGRADE.lower() in request.headers.get("Upgrade", "").lower()


def offered_subprotocols(request: web.Request) -> list[str]:
    """What the client offered in ``Sec-WebSocket-Protocol``, without the bearer-token subprotocol the
    authenticating layer took out (so that it is never chosen, nor echoed)."""
    return authn.offered_subprotocols(request)


def choose_websocket_protocol(request: web.Request, supported: Sequence[str]) -> str:
    """The subprotocol to answer with; 403 if the client offered only ones we do not speak."""
    offered = offered_subprotocols(request)
    chosen = websocket.choose_subprotocol(offered, supported)
    if chosen is None:
        raise RequestRefused(
            403,
            f"requested protocol(s) are not supported: {offered}; supports {[name for name in supported if name]}",
        )
    return chosen


async def accept_websocket(request: web.Request, protocol: str) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(
        protocols=(protocol,) if protocol else (), compress=False, max_msg_size=MAX_MESSAGE, timeout=5.0
    )
    await ws.prepare(request)
    return ws


def choose_spdy_protocol(request: web.Request, supported: Sequence[str]) -> str:
    """The first ``X-Stream-Protocol-Version`` the client listed that we support: 400 without the header, 403 with
    ``X-Accepted-Stream-Protocol-Versions`` if none matches."""
    offered = [
        name.strip()
        for value in request.headers.getall(PROTOCOL_HEADER, [])
        for name in value.split(",")
        if name.strip()
    ]
    if not offered:
        raise RequestRefused(400, f"unable to upgrade: {PROTOCOL_HEADER} is required")
    for name in offered:
        if name in supported:
            return name
    raise RequestRefused(
        403,
        f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server accepts {list(supported)}",
        {"X-Accepted-Stream-Protocol-Versions": list(supported)},
    )


class _RawTransport:
    """The request's TCP (or TLS) connection, for a SPDY connection after the 101."""

    def __init__(self, request: web.Request) -> None:
        transport = request.transport
        assert transport is not None
        self._transport = transport
        self._protocol = request.protocol

    def write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    async def drain(self) -> None:
        await self._protocol._drain_helper()

    def pause_reading(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._transport.resume_reading()

    def close(self) -> None:
        self._transport.close()


class _SpdyFeeder:
    """Stands in for aiohttp's payload parser: every byte received after the upgrade goes to the SPDY connection."""

    def __init__(self, connection: spdy.SpdyConnection) -> None:
        self._connection = connection

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._connection.feed(data)
        return False, b""

    def feed_eof(self) -> None:
        self._connection.feed_eof()


async def accept_spdy(
    request: web.Request, *, protocol: str, on_stream: Callable[[spdy.SpdyStream], None]
) -> tuple[web.StreamResponse, spdy.SpdyConnection]:
    """Answer 101 and run SPDY on the raw connection. Return the response from the handler once the connection
    is done."""
    connection = spdy.SpdyConnection(_RawTransport(request), on_stream)
    response = web.StreamResponse(
        status=101,
        headers={"Connection": "Upgrade", "Upgrade": SPDY_UPGRADE, PROTOCOL_HEADER: protocol},
    )
    response.force_close()
    request.protocol.set_parser(_SpdyFeeder(connection))  # type: ignore[arg-type]
    await response.prepare(request)
    return response, connection


class WebSocketTransport:
    """SPDY bytes as the payloads of binary WebSocket messages. Message boundaries mean nothing; a normal close is
    the end of the connection. Run :meth:`run` as a task."""

    _HIGH_WATER = 1 << 20

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws
        self._outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pending = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._reading = asyncio.Event()
        self._reading.set()

    def write(self, data: bytes) -> None:
        self._outbox.put_nowait(data)
        self._pending += len(data)
        if self._pending > self._HIGH_WATER:
            self._drained.clear()

    async def drain(self) -> None:
        await self._drained.wait()

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def close(self) -> None:
        self._outbox.put_nowait(None)

    async def run(self, connection: spdy.SpdyConnection) -> None:
        """Carry bytes both ways until either side closes."""
        writer = asyncio.create_task(self._write_loop())
        try:
            async for message in self._ws:
                if message.type == WSMsgType.BINARY:
                    connection.feed(message.data)
                    await self._reading.wait()
                elif message.type == WSMsgType.TEXT:
                    connection.close(spdy.GoAwayStatus.PROTOCOL_ERROR)
                    break
        finally:
            connection.feed_eof()
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await writer

    async def _write_loop(self) -> None:
        closing = False
        while not closing:
            data = await self._outbox.get()
            if data is None:
                break
            chunks = [data]
            while not self._outbox.empty():  # what piled up meanwhile goes in one message
                more = self._outbox.get_nowait()
                if more is None:
                    closing = True
                    break
                chunks.append(more)
            payload = b"".join(chunks)
            self._pending -= len(payload)
            if self._pending <= self._HIGH_WATER:
                self._drained.set()
            if not self._ws.closed:
                await self._ws.send_bytes(payload)
        self._drained.set()
        await self._ws.close()


def headers_for(refusal: RequestRefused) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in refusal.headers.items():
        for item in [value] if isinstance(value, str) else value:
            headers.add(name, item)
    return headers


def refusal_response(refusal: RequestRefused) -> web.Response:
    """The plain-text HTTP answer for a refused request, as the kubelet writes it."""
    return web.Response(status=refusal.status, text=refusal.message + "\n", headers=headers_for(refusal))

"""The Kubernetes channel protocols over WebSocket (``channel.k8s.io`` and friends).

Every WebSocket message is one channel byte followed by the payload. The binary protocols use binary messages;
the base64 ones use text messages: the channel as an ASCII digit, then the payload in standard base64. From
``v5.channel.k8s.io`` on, a client message on channel 255 carrying one channel number half-closes that channel.

The subprotocol is the first one *the client* offered that we support, and exactly that one is echoed. No offer at
all means the binary channel protocol.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

CLOSE_CHANNEL = 255


@dataclass(frozen=True)
class ChannelProtocol:
    name: str
    #: Text messages with a digit and base64, rather than binary messages.
    base64: bool
    #: The remotecommand version: 1-3 report failures as text on the error channel, 4+ as a JSON Status;
    #: 5 adds half-close messages on channel 255.
    version: int


def _protocols(*protocols: ChannelProtocol) -> dict[str, ChannelProtocol]:
    return {protocol.name: protocol for protocol in protocols}


#: WebSocket subprotocols for exec and attach.
REMOTECOMMAND_PROTOCOLS = _protocols(
    ChannelProtocol("v5.channel.k8s.io", base64=False, version=5),
    ChannelProtocol("v4.channel.k8s.io", base64=False, version=4),
    ChannelProtocol("v4.base64.channel.k8s.io", base64=True, version=4),
    ChannelProtocol("v3.channel.k8s.io", base64=False, version=3),
    ChannelProtocol("v2.channel.k8s.io", base64=False, version=2),
    ChannelProtocol("channel.k8s.io", base64=False, version=1),
    ChannelProtocol("base64.channel.k8s.io", base64=True, version=1),
    ChannelProtocol("", base64=False, version=1),
)

#: WebSocket subprotocols of the legacy (channel-based) port-forward.
PORT_FORWARD_PROTOCOLS = _protocols(
    ChannelProtocol("v4.channel.k8s.io", base64=False, version=4),
    ChannelProtocol("v4.base64.channel.k8s.io", base64=True, version=4),
    ChannelProtocol("", base64=False, version=1),
)


def choose_subprotocol(offered: Sequence[str] | None, supported: Iterable[str]) -> str | None:
    """The first of ``offered`` in ``supported``; "" when nothing was offered; None when nothing matches."""
    names = set(supported)
    if not offered:
        return "" if "" in names else None
    return next((name for name in offered if name and name in names), None)


def encode_message(protocol: ChannelProtocol, channel: int, data: bytes) -> bytes | str:
    if protocol.base64:
        return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")
    return bytes((channel,)) + data


def decode_message(protocol: ChannelProtocol, message: bytes | str) -> tuple[int, bytes] | None:
    """(channel, payload), or None for a message to ignore (empty, or base64 that does not decode)."""
    if not message:
        return None
    if protocol.base64:
        text = message.decode("ascii", "replace") if isinstance(message, bytes) else message
        try:
            return ord(text[0]) - ord("0"), base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError):
            return None
    data = message.encode() if isinstance(message, str) else message
    return data[0], data[1:]


class ChannelError(Exception):
    """The client broke the channel protocol; the session ends."""


class ChannelConnection:
    """A WebSocket speaking a channel protocol: inbound messages go to one queue per readable channel (read them
    with :meth:`read`), outbound writes are serialised. Run :meth:`run` as a task; it returns when the client has
    gone, after which every :meth:`read` answers None."""

    def __init__(self, ws: web.WebSocketResponse, protocol: ChannelProtocol, *, readable: Iterable[int]) -> None:
        self.ws = ws
        self.protocol = protocol
        self._queues: dict[int, asyncio.Queue[bytes | None]] = {ch: asyncio.Queue(64) for ch in readable}
        self._ended: set[int] = set()
        self._lock = asyncio.Lock()
        self.gone = asyncio.Event()

    async def run(self) -> None:
        try:
            async for message in self.ws:
                if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                decoded = decode_message(self.protocol, message.data)
                if decoded is not None:
                    await self._dispatch(*decoded)
        except ChannelError as error:
            log.info("closing a %s session: %s", self.protocol.name or "channel", error)
        finally:
            self.gone.set()
            for channel in self._queues:
                self._end(channel)

    async def _dispatch(self, channel: int, payload: bytes) -> None:
        if channel == CLOSE_CHANNEL and self.protocol.version >= 5:
            if len(payload) != 1:
                raise ChannelError(f"a half-close message of {len(payload) + 1} bytes")
            if payload[0] in self._queues and payload[0] not in self._ended:
                self._ended.add(payload[0])
                await self._queues[payload[0]].put(None)
            return
        queue = self._queues.get(channel)
        if queue is not None and payload and channel not in self._ended:
            await queue.put(payload)

    def _end(self, channel: int) -> None:
        """End ``channel`` now that the client has gone."""
        if channel in self._ended:
            return
        self._ended.add(channel)
        queue = self._queues[channel]
        if queue.full():  # the session is over: what the client sent last does not matter
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
        queue.put_nowait(None)

    async def read(self, channel: int) -> bytes | None:
        """The next payload on ``channel``, or None once it is closed (half-close or the client gone)."""
        queue = self._queues[channel]
        item = await queue.get()
        if item is None:
            queue.put_nowait(None)  # every later read sees the end too
        return item

    async def write(self, channel: int, data: bytes) -> bool:
        """Send ``data`` on ``channel``; False if the client has gone."""
        message = encode_message(self.protocol, channel, data)
        async with self._lock:
            if self.ws.closed:
                return False
            try:
                if isinstance(message, str):
                    await self.ws.send_str(message)
                else:
                    await self.ws.send_bytes(message)
            except (ConnectionError, RuntimeError):
                return False
            return True

    async def close(self) -> None:
        """A normal close (1000), which the client takes as the end of every channel."""
        async with self._lock:
            with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
                await self.ws.close()


def offered(header_values: Sequence[str] | None) -> list[str] | None:
    """Subprotocols from ``Sec-WebSocket-Protocol`` header values (comma lists), or None without the header."""
    if header_values is None:
        return None
    return [name.strip() for value in header_values for name in value.split(",") if name.strip()]


__all__ = [
    "CLOSE_CHANNEL",
    "PORT_FORWARD_PROTOCOLS",
    "REMOTECOMMAND_PROTOCOLS",
    "ChannelConnection",
    "ChannelError",
    "ChannelProtocol",
    "choose_subprotocol",
    "decode_message",
    "encode_message",
    "offered",
]

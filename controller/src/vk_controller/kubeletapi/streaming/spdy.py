"""SPDY/3.1, the server side, as Kubernetes clients speak it (moby/spdystream): older API servers and kubectl's
SPDY fallback use it for exec, attach and port-forward, and kubectl tunnels it through a WebSocket for
port-forward.

Two layers. :class:`FrameEncoder` and :class:`FrameDecoder` turn frames into bytes and back, without I/O, so they are
tested on their own. :class:`SpdyConnection` runs the server role over any :class:`ByteTransport` (the raw TCP
connection after an HTTP upgrade, or the payload of WebSocket messages).

What the Go peer requires (and where implementations go wrong):

- **Header compression is one zlib stream per direction for the whole connection**, primed with the SPDY/3
  dictionary, and every header block ends with a sync flush, so each frame carries exactly its own compressed bytes.
- **We never send SETTINGS, WINDOW_UPDATE, our own PINGs or unknown control frames**: an unknown control frame
  makes spdystream drop the connection, and bytes sent right behind the 101 may be lost. We only answer.
- **SYN_REPLY before DATA** on every stream (the peer drops DATA for a stream it has no reply for).
- **No flow-control windows are enforced** in either direction: Go peers never send WINDOW_UPDATE.
- Pings with odd ids come from the client and are echoed; even ids would be our own and are ignored.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_FRAME_PAYLOAD = (1 << 24) - 1
MAX_HEADER_PAIRS = 1000
MAX_HEADER_FIELD = 1 << 20


class ControlType(enum.IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    INVALID_CREDENTIALS = 10
    FRAME_TOO_LARGE = 11


class GoAwayStatus(enum.IntEnum):
    OK = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2


def _length_prefixed(*words: bytes) -> bytes:
    return b"".join(len(word).to_bytes(4, "big") + word for word in words)


#: The SPDY/3 header-compression dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1): 1423 bytes, Adler-32
#: 0xe3c6a7c2. Common header names, each with a 4-byte length, then common values run together.
DICTIONARY = _length_prefixed(
    *(
        b"options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
        b"age allow authorization cache-control connection content-base content-encoding content-language "
        b"content-length content-location content-md5 content-range content-type date etag expect expires from "
        b"host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        b"max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
        b"transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
    ).split(),
    b"200 OK",
    *b"version HTTP/1.1 url public set-cookie keep-alive origin".split(),
) + (
    b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    b"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    b"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)

#: Header names to values; names are lowercase, a name with several values keeps them in order.
Headers = dict[str, list[str]]


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1; the connection cannot continue."""


# -- frames -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStreamFrame:
    stream_id: int
    headers: Headers
    associated_id: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReplyFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStreamFrame:
    stream_id: int
    status: int


@dataclass(frozen=True)
class SettingsFrame:
    #: (flags, id, value) triples.
    entries: tuple[tuple[int, int, int], ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class PingFrame:
    ping_id: int


@dataclass(frozen=True)
class GoAwayFrame:
    last_good_stream_id: int
    status: int = GoAwayStatus.OK


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdateFrame:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class UnknownControlFrame:
    """A control frame of a type SPDY/3.1 does not define; read and ignored (never written)."""

    type: int
    flags: int
    payload: bytes


Frame = (
    DataFrame
    | SynStreamFrame
    | SynReplyFrame
    | RstStreamFrame
    | SettingsFrame
    | PingFrame
    | GoAwayFrame
    | HeadersFrame
    | WindowUpdateFrame
    | UnknownControlFrame
)


def _header_block(headers: Headers) -> bytes:
    parts = [len(headers).to_bytes(4, "big")]
    for name, values in headers.items():
        encoded_name = name.lower().encode()
        value = b"\x00".join(v.encode() for v in values)
        parts += [len(encoded_name).to_bytes(4, "big"), encoded_name, len(value).to_bytes(4, "big"), value]
    return b"".join(parts)


def _parse_header_block(block: bytes) -> Headers:
    view = memoryview(block)
    offset = 0

    def take(size: int) -> bytes:
        nonlocal offset
        if offset + size > len(view):
            raise ProtocolError("truncated header block")
        chunk = bytes(view[offset : offset + size])
        offset += size
        return chunk

    def length() -> int:
        value = int.from_bytes(take(4), "big")
        if value > MAX_HEADER_FIELD:
            raise ProtocolError(f"header field of {value} bytes")
        return value

    count = int.from_bytes(take(4), "big")
    if count > MAX_HEADER_PAIRS:
        raise ProtocolError(f"{count} header pairs")
    headers: Headers = {}
    for _ in range(count):
        name = take(length()).decode("latin-1").lower()
        if not name:
            raise ProtocolError("empty header name")
        value = take(length()).decode("latin-1")
        headers.setdefault(name, []).extend(value.split("\x00"))
    if offset != len(view):
        raise ProtocolError("trailing bytes after the header block")
    return headers


def _control(kind: ControlType, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise ValueError(f"control frame of {len(payload)} bytes")
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


class FrameEncoder:
    """Frames to bytes; owns this direction's header compressor, so one encoder per connection direction."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(level=9, zdict=DICTIONARY)

    def _compress(self, headers: Headers) -> bytes:
        return self._deflate.compress(_header_block(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_FRAME_PAYLOAD:
                raise ValueError(f"DATA frame of {len(frame.data)} bytes")
            flags = FLAG_FIN if frame.fin else 0
            return struct.pack(">II", frame.stream_id & 0x7FFFFFFF, (flags << 24) | len(frame.data)) + frame.data
        if isinstance(frame, SynStreamFrame):
            flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            head = struct.pack(">IIBB", frame.stream_id, frame.associated_id, (frame.priority & 0x7) << 5, 0)
            return _control(ControlType.SYN_STREAM, flags, head + self._compress(frame.headers))
        if isinstance(frame, SynReplyFrame):
            payload = struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
            return _control(ControlType.SYN_REPLY, FLAG_FIN if frame.fin else 0, payload)
        if isinstance(frame, RstStreamFrame):
            return _control(ControlType.RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, SettingsFrame):
            entries = b"".join(struct.pack(">II", (f << 24) | i, v) for f, i, v in frame.entries)
            payload = struct.pack(">I", len(frame.entries)) + entries
            return _control(ControlType.SETTINGS, 1 if frame.clear else 0, payload)
        if isinstance(frame, PingFrame):
            return _control(ControlType.PING, 0, struct.pack(">I", frame.ping_id))
        if isinstance(frame, GoAwayFrame):
            return _control(ControlType.GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status))
        if isinstance(frame, HeadersFrame):
            payload = struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
            return _control(ControlType.HEADERS, FLAG_FIN if frame.fin else 0, payload)
        if isinstance(frame, WindowUpdateFrame):
            return _control(ControlType.WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        raise TypeError(f"cannot encode {type(frame).__name__}")


class FrameDecoder:
    """Bytes to frames, fed incrementally; owns the peer's header decompressor."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._buffer = bytearray()

    def _decompress(self, compressed: bytes) -> Headers:
        try:
            block = self._inflate.decompress(compressed)
        except zlib.error as error:
            raise ProtocolError(f"header block does not decompress: {error}") from error
        if self._inflate.unconsumed_tail or self._inflate.eof:
            raise ProtocolError("header block is not a sync-flushed part of the connection's zlib stream")
        return _parse_header_block(block)

    def feed(self, data: bytes) -> list[Frame]:
        """Every complete frame in what was received so far. Raises :class:`ProtocolError`."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from(">II", self._buffer)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = second >> 24
            if first & 0x80000000:
                frames.append(self._control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, payload))
            else:
                frames.append(DataFrame(first & 0x7FFFFFFF, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control(self, version: int, kind: int, flags: int, payload: bytes) -> Frame:
        # Like spdystream, the version is not checked: nobody speaks another one to a kubelet.
        def need(size: int, exact: bool = False) -> None:
            if len(payload) < size or (exact and len(payload) != size):
                raise ProtocolError(f"control frame type {kind} with a {len(payload)}-byte payload")

        fin = bool(flags & FLAG_FIN)
        if kind == ControlType.SYN_STREAM:
            need(10)
            stream_id, associated, priority = struct.unpack_from(">IIB", payload)
            return SynStreamFrame(
                stream_id=stream_id & 0x7FFFFFFF,
                associated_id=associated & 0x7FFFFFFF,
                priority=priority >> 5,
                headers=self._decompress(payload[10:]),
                fin=fin,
                unidirectional=bool(flags & FLAG_UNIDIRECTIONAL),
            )
        if kind == ControlType.SYN_REPLY:
            need(4)
            stream_id = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            return SynReplyFrame(stream_id, self._decompress(payload[4:]), fin)
        if kind == ControlType.RST_STREAM:
            need(8, exact=True)
            stream_id, status = struct.unpack(">II", payload)
            return RstStreamFrame(stream_id & 0x7FFFFFFF, status)
        if kind == ControlType.SETTINGS:
            need(4)
            (count,) = struct.unpack_from(">I", payload)
            need(4 + 8 * count, exact=True)
            entries = tuple(
                (head >> 24, head & 0xFFFFFF, value)
                for head, value in struct.iter_unpack(">II", payload[4 : 4 + 8 * count])
            )
            return SettingsFrame(entries, clear=bool(flags & 0x01))
        if kind == ControlType.PING:
            need(4, exact=True)
            return PingFrame(struct.unpack(">I", payload)[0])
        if kind == ControlType.GOAWAY:
            need(8, exact=True)
            last_good, status = struct.unpack(">II", payload)
            return GoAwayFrame(last_good & 0x7FFFFFFF, status)
        if kind == ControlType.HEADERS:
            need(4)
            stream_id = struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF
            return HeadersFrame(stream_id, self._decompress(payload[4:]), fin)
        if kind == ControlType.WINDOW_UPDATE:
            need(8, exact=True)
            stream_id, delta = struct.unpack(">II", payload)
            return WindowUpdateFrame(stream_id & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        return UnknownControlFrame(kind, flags, payload)


# -- the connection ---------------------------------------------------------------------------------------------


class ByteTransport(Protocol):
    """Where the connection's bytes go: writes are buffered in order; ``drain`` waits while too much is buffered."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...


#: Inbound bytes buffered (in all streams) before the transport stops reading, and the level to resume at.
_READ_HIGH = 1 << 20
_READ_LOW = 1 << 18
#: DATA frames we write are at most this long.
_WRITE_CHUNK = 1 << 16


class SpdyStream:
    """A stream the client opened. Read what the client sends; reply, write, half-close or reset our side."""

    def __init__(self, connection: SpdyConnection, frame: SynStreamFrame) -> None:
        self._connection = connection
        self.id = frame.stream_id
        self.headers = frame.headers
        self._inbound: deque[bytes] = deque()
        self._readable = asyncio.Event()
        self.remote_closed = frame.fin
        self.local_closed = frame.unidirectional
        self.replied = False
        self.was_reset = False

    @property
    def connection_closed(self) -> bool:
        return self._connection.closed

    def header(self, name: str) -> str:
        """The first value of header ``name``, or ""."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    def reply(self) -> None:
        """Accept the stream (SYN_REPLY with no headers, as the Go server sends)."""
        if not self.replied and not self.was_reset:
            self.replied = True
            self._connection._send(SynReplyFrame(self.id))

    async def read(self) -> bytes | None:
        """The next bytes from the client, or None at the end (FIN, reset or connection lost)."""
        while not self._inbound:
            if self.remote_closed:
                self._connection._forget_if_done(self)
                return None
            self._readable.clear()
            await self._readable.wait()
        chunk = self._inbound.popleft()
        self._connection._consumed(len(chunk))
        self._connection._forget_if_done(self)
        return chunk

    async def write(self, data: bytes) -> bool:
        """Send ``data``; False if our side is closed or the stream was reset (the data is dropped)."""
        if self.local_closed or self.was_reset or self._connection.closed:
            return False
        self.reply()
        for start in range(0, len(data), _WRITE_CHUNK):
            self._connection._send(DataFrame(self.id, data[start : start + _WRITE_CHUNK]))
            await self._connection._drain()
        return True

    def close_write(self) -> None:
        """Half-close our side (an empty DATA frame with FIN)."""
        if self.local_closed or self.was_reset or self._connection.closed:
            return
        self.reply()
        self.local_closed = True
        self._connection._send(DataFrame(self.id, b"", fin=True))
        self._connection._forget_if_done(self)

    def reset(self, status: int = RstStatus.CANCEL) -> None:
        if self.was_reset or self._connection.closed:
            return
        self._connection._send(RstStreamFrame(self.id, status))
        self._on_reset()

    def _on_reset(self) -> None:
        self.was_reset = True
        self.local_closed = True
        self._end_input()
        self._connection._forget(self)

    def _feed(self, data: bytes, fin: bool) -> None:
        if self.remote_closed:
            return
        if data:
            self._inbound.append(data)
            self._connection._buffered(len(data))
        if fin:
            self.remote_closed = True
            self._connection._forget_if_done(self)
        self._readable.set()

    def _end_input(self) -> None:
        self.remote_closed = True
        self._readable.set()


class SpdyConnection:
    """The server end of a SPDY/3.1 connection. ``on_stream`` is called (synchronously) for every stream the client
    opens; it replies, resets, or keeps the stream for later. Feed received bytes to :meth:`feed`, and call
    :meth:`feed_eof` when the peer closed."""

    def __init__(self, transport: ByteTransport, on_stream: Callable[[SpdyStream], None]) -> None:
        self._transport = transport
        self._on_stream = on_stream
        self._encoder = FrameEncoder()
        self._decoder = FrameDecoder()
        self._streams: dict[int, SpdyStream] = {}
        self._last_stream_id = 0
        self._buffered_bytes = 0
        self._reading_paused = False
        self._closed = asyncio.Event()
        self.goaway_received = False

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # -- input ------------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            frames = self._decoder.feed(data)
        except ProtocolError as error:
            log.warning("SPDY connection closed: %s", error)
            self.close(GoAwayStatus.PROTOCOL_ERROR)
            return
        for frame in frames:
            self._handle(frame)
            if self.closed:
                return

    def feed_eof(self) -> None:
        self._shut()

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                stream._feed(frame.data, frame.fin)
        elif isinstance(frame, SynStreamFrame):
            self._new_stream(frame)
        elif isinstance(frame, RstStreamFrame):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                stream._on_reset()
        elif isinstance(frame, PingFrame):
            if frame.ping_id % 2 == 1:
                self._send(frame)
        elif isinstance(frame, GoAwayFrame):
            self.goaway_received = True
        elif isinstance(frame, HeadersFrame):
            stream = self._streams.get(frame.stream_id)
            if stream is not None:
                for name, values in frame.headers.items():
                    stream.headers.setdefault(name, []).extend(values)
                if frame.fin:
                    stream._feed(b"", True)
        # SYN_REPLY (we open no streams), SETTINGS, WINDOW_UPDATE and unknown control frames are ignored.

    def _new_stream(self, frame: SynStreamFrame) -> None:
        if frame.stream_id % 2 == 0 or frame.stream_id <= self._last_stream_id:
            self._send(RstStreamFrame(frame.stream_id, RstStatus.PROTOCOL_ERROR))
            return
        self._last_stream_id = frame.stream_id
        if self.goaway_received:
            self._send(RstStreamFrame(frame.stream_id, RstStatus.REFUSED_STREAM))
            return
        stream = SpdyStream(self, frame)
        self._streams[stream.id] = stream
        self._on_stream(stream)

    # -- bookkeeping for streams -------------------------------------------------------------------------------

    def _buffered(self, size: int) -> None:
        self._buffered_bytes += size
        if self._buffered_bytes > _READ_HIGH and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()

    def _consumed(self, size: int) -> None:
        self._buffered_bytes -= size
        if self._reading_paused and self._buffered_bytes < _READ_LOW:
            self._reading_paused = False
            self._transport.resume_reading()

    def _forget_if_done(self, stream: SpdyStream) -> None:
        if stream.remote_closed and stream.local_closed and not stream._inbound:
            self._forget(stream)

    def _forget(self, stream: SpdyStream) -> None:
        self._streams.pop(stream.id, None)

    # -- output -----------------------------------------------------------------------------------------------

    def _send(self, frame: Frame) -> None:
        if not self.closed:
            self._transport.write(self._encoder.encode(frame))

    async def _drain(self) -> None:
        try:
            await self._transport.drain()
        except (ConnectionError, RuntimeError):
            self._shut()

    def close(self, status: int = GoAwayStatus.OK) -> None:
        """Say goodbye (GOAWAY) and close the transport; every stream ends."""
        if self.closed:
            return
        self._send(GoAwayFrame(self._last_stream_id, status))
        self._shut()
        self._transport.close()

    def _shut(self) -> None:
        if self.closed:
            return
        self._closed.set()
        for stream in list(self._streams.values()):
            stream.local_closed = True
            stream._end_input()
        self._streams.clear()
        if self._reading_paused:
            self._reading_paused = False
            self._transport.resume_reading()


__all__ = [
    "DICTIONARY",
    "ByteTransport",
    "DataFrame",
    "Frame",
    "FrameDecoder",
    "FrameEncoder",
    "GoAwayFrame",
    "GoAwayStatus",
    "Headers",
    "HeadersFrame",
    "PingFrame",
    "ProtocolError",
    "RstStatus",
    "RstStreamFrame",
    "SettingsFrame",
    "SpdyConnection",
    "SpdyStream",
    "SynReplyFrame",
    "SynStreamFrame",
    "UnknownControlFrame",
    "WindowUpdateFrame",
]

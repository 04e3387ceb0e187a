"""SPDY/3.1 as the Go peers (moby/spdystream) expect it: exact frame layouts, the shared zlib dictionary, one zlib
stream per direction with a sync flush per header block, and the server's manners (answer pings of odd ids, reply
before data, never send SETTINGS, WINDOW_UPDATE or unknown control frames, enforce no windows)."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from vk_controller.kubeletapi.streaming import spdy
from vk_controller.kubeletapi.streaming.spdy import (
    DataFrame,
    FrameDecoder,
    FrameEncoder,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    SynReplyFrame,
    SynStreamFrame,
    UnknownControlFrame,
    WindowUpdateFrame,
)


def test_the_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


@pytest.mark.parametrize(
    "frame",
    [
        DataFrame(1, b"hello"),
        DataFrame(0x7FFFFFFF, b"", fin=True),
        SynStreamFrame(3, {"streamtype": ["stdin"], "port": ["8080"]}, associated_id=1, priority=7, fin=True),
        SynStreamFrame(5, {}, unidirectional=True),
        SynReplyFrame(3),
        SynReplyFrame(3, {"x": ["a", "b"]}, fin=True),
        RstStreamFrame(5, spdy.RstStatus.CANCEL),
        SettingsFrame(((0, 7, 65536), (1, 4, 100)), clear=True),
        PingFrame(0xFFFFFFFF),
        GoAwayFrame(7, spdy.GoAwayStatus.PROTOCOL_ERROR),
        HeadersFrame(9, {"a": ["1"]}, fin=True),
        WindowUpdateFrame(1, 65536),
    ],
)
def test_every_frame_round_trips(frame: spdy.Frame) -> None:
    assert FrameDecoder().feed(FrameEncoder().encode(frame)) == [frame]


def test_control_frame_layouts_are_exact() -> None:
    encoder = FrameEncoder()
    assert encoder.encode(PingFrame(1)) == bytes.fromhex("80030006 00000004 00000001")
    assert encoder.encode(RstStreamFrame(3, 5)) == bytes.fromhex("80030003 00000008 00000003 00000005")
    assert encoder.encode(GoAwayFrame(9)) == bytes.fromhex("80030007 00000008 00000009 00000000")
    assert encoder.encode(DataFrame(3, b"ab", fin=True)) == bytes.fromhex("00000003 01000002 6162")


def test_syn_reply_carries_a_compressed_empty_header_block_primed_with_the_dictionary() -> None:
    encoded = FrameEncoder().encode(SynReplyFrame(1))
    kind, flags_length, stream_id = struct.unpack(">IIi", encoded[:12])
    assert kind == 0x80030002
    assert flags_length == len(encoded) - 8
    assert stream_id == 1
    block = encoded[12:]
    # A zlib header announcing a preset dictionary (FDICT) whose Adler-32 is the SPDY dictionary's.
    assert block[1] & 0x20
    assert struct.unpack(">I", block[2:6])[0] == 0xE3C6A7C2
    inflater = zlib.decompressobj(zdict=spdy.DICTIONARY)
    assert inflater.decompress(block) == b"\x00\x00\x00\x00"
    # Sync-flushed: everything came out and the stream is not finished.
    assert block.endswith(b"\x00\x00\xff\xff")
    assert not inflater.eof


def test_header_compression_is_one_stream_per_direction() -> None:
    encoder = FrameEncoder()
    headers = {"streamtype": ["data"], "port": ["8080"], "requestid": ["0"]}
    first = encoder.encode(SynStreamFrame(1, headers))
    second = encoder.encode(SynStreamFrame(3, headers))
    assert len(second) < len(first)  # the second block refers back to the first
    # A decoder that saw the first frame reads the second; a fresh one cannot.
    decoder = FrameDecoder()
    assert decoder.feed(first + second) == [SynStreamFrame(1, headers), SynStreamFrame(3, headers)]
    with pytest.raises(spdy.ProtocolError):
        FrameDecoder().feed(second)


def test_header_values_are_nul_joined_and_names_lowercased() -> None:
    encoded = FrameEncoder().encode(SynStreamFrame(1, {"StreamType": ["a", "b"]}))
    (frame,) = FrameDecoder().feed(encoded)
    assert isinstance(frame, SynStreamFrame)
    assert frame.headers == {"streamtype": ["a", "b"]}
    block = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(encoded[18:])
    assert block == b"\x00\x00\x00\x01" + b"\x00\x00\x00\x0astreamtype" + b"\x00\x00\x00\x03a\x00b"


def test_the_decoder_is_incremental() -> None:
    encoder = FrameEncoder()
    wire = b"".join(
        encoder.encode(frame)
        for frame in (SynStreamFrame(1, {"streamtype": ["error"]}), DataFrame(1, b"x" * 1000), PingFrame(3))
    )
    decoder = FrameDecoder()
    frames: list[spdy.Frame] = []
    for index in range(len(wire)):
        frames += decoder.feed(wire[index : index + 1])
    assert frames == [SynStreamFrame(1, {"streamtype": ["error"]}), DataFrame(1, b"x" * 1000), PingFrame(3)]


def test_unknown_control_frames_are_read_not_refused() -> None:
    wire = struct.pack(">HHI", 0x8003, 10, 3) + b"abc"
    assert FrameDecoder().feed(wire) == [UnknownControlFrame(10, 0, b"abc")]


def test_malformed_frames_are_protocol_errors() -> None:
    with pytest.raises(spdy.ProtocolError):
        FrameDecoder().feed(struct.pack(">HHI", 0x8003, 6, 3) + b"abc")  # PING of 3 bytes
    with pytest.raises(spdy.ProtocolError):
        FrameDecoder().feed(struct.pack(">HHI", 0x8003, 2, 6) + b"\x00\x00\x00\x01zz")  # not zlib


# -- the connection -----------------------------------------------------------------------------------------------


class RecordingTransport:
    """Where a connection's bytes go in these tests: decoded back into frames as the client would read them."""

    def __init__(self) -> None:
        self.decoder = FrameDecoder()
        self.frames: list[spdy.Frame] = []
        self.paused = False
        self.closed = False

    def write(self, data: bytes) -> None:
        self.frames += self.decoder.feed(data)

    async def drain(self) -> None:
        return None

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def close(self) -> None:
        self.closed = True


class Client:
    def __init__(self) -> None:
        self.transport = RecordingTransport()
        self.streams: list[spdy.SpdyStream] = []
        self.connection = spdy.SpdyConnection(self.transport, self.streams.append)
        self.encoder = FrameEncoder()

    def send(self, *frames: spdy.Frame) -> None:
        self.connection.feed(b"".join(self.encoder.encode(frame) for frame in frames))


async def test_pings_of_the_client_are_echoed_and_even_ones_ignored() -> None:
    client = Client()
    client.send(PingFrame(1), PingFrame(2), PingFrame(7))
    assert client.transport.frames == [PingFrame(1), PingFrame(7)]


async def test_data_is_always_preceded_by_a_syn_reply_and_nothing_unasked_is_sent() -> None:
    client = Client()
    client.send(SynStreamFrame(1, {"streamtype": ["stdout"]}))
    (stream,) = client.streams
    await stream.write(b"out")
    stream.close_write()
    assert client.transport.frames == [SynReplyFrame(1), DataFrame(1, b"out"), DataFrame(1, b"", fin=True)]


async def test_no_flow_control_windows_are_enforced() -> None:
    client = Client()
    client.send(SynStreamFrame(1, {"streamtype": ["stdin"]}))
    (stream,) = client.streams
    stream.reply()
    chunk = b"z" * 16384
    client.send(*(DataFrame(1, chunk) for _ in range(64)), DataFrame(1, b"", fin=True))  # 1 MiB, no WINDOW_UPDATE
    received = b""
    while (data := await stream.read()) is not None:
        received += data
    assert received == chunk * 64
    await stream.write(b"w" * (200 * 1024))  # and we write past 64 KiB without waiting for a window
    kinds = {type(frame) for frame in client.transport.frames}
    assert kinds == {SynReplyFrame, DataFrame}


async def test_reading_pauses_while_too_much_is_buffered() -> None:
    client = Client()
    client.send(SynStreamFrame(1, {}))
    (stream,) = client.streams
    client.send(*(DataFrame(1, b"b" * 65536) for _ in range(20)))
    assert client.transport.paused
    for _ in range(20):
        await stream.read()
    assert not client.transport.paused


async def test_stream_ids_must_be_odd_and_increasing() -> None:
    client = Client()
    client.send(SynStreamFrame(3, {}), SynStreamFrame(1, {}), SynStreamFrame(4, {}))
    assert [stream.id for stream in client.streams] == [3]
    assert client.transport.frames == [
        RstStreamFrame(1, spdy.RstStatus.PROTOCOL_ERROR),
        RstStreamFrame(4, spdy.RstStatus.PROTOCOL_ERROR),
    ]


async def test_a_reset_ends_the_stream_both_ways() -> None:
    client = Client()
    client.send(SynStreamFrame(1, {}))
    (stream,) = client.streams
    client.send(RstStreamFrame(1, spdy.RstStatus.CANCEL))
    assert await stream.read() is None
    assert stream.was_reset
    assert not await stream.write(b"late")
    assert client.transport.frames == []


async def test_closing_sends_goaway_with_the_last_stream_and_ends_reads() -> None:
    client = Client()
    client.send(SynStreamFrame(5, {}))
    (stream,) = client.streams
    reading = asyncio.create_task(stream.read())
    await asyncio.sleep(0)
    client.connection.close()
    assert await reading is None
    assert client.transport.frames == [GoAwayFrame(5, spdy.GoAwayStatus.OK)]
    assert client.transport.closed


async def test_the_peer_going_away_ends_everything_and_garbage_closes() -> None:
    client = Client()
    client.send(SynStreamFrame(1, {}))
    client.connection.feed_eof()
    assert client.connection.closed
    assert await client.streams[0].read() is None

    broken = Client()
    broken.connection.feed(struct.pack(">HHI", 0x8003, 7, 2) + b"\x00\x00")  # GOAWAY of 2 bytes
    assert broken.connection.closed
    assert broken.transport.frames == [GoAwayFrame(0, spdy.GoAwayStatus.PROTOCOL_ERROR)]


async def test_unknown_control_frames_and_settings_are_ignored() -> None:
    client = Client()
    client.connection.feed(struct.pack(">HHI", 0x8003, 10, 0))
    client.send(SettingsFrame(((0, 7, 1024),)), WindowUpdateFrame(0, 1), SynStreamFrame(1, {}))
    assert not client.connection.closed
    assert len(client.streams) == 1
    assert client.transport.frames == []

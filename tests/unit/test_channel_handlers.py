"""The streaming handlers end to end, without Kubernetes: an aiohttp server with the handlers mounted, a small
provider over real gRPC, and real clients: aiohttp's WebSocket client for the channel protocols, and a SPDY/3.1
client built from the framing module (``SpdyTestClient``) for the SPDY upgrade and kubectl's WebSocket tunnel."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from virtualkubelet.provider.v1 import capabilities_pb2, node_pb2, pod_pb2, pod_requests_pb2, status_pb2, streaming_pb2
from vk_controller.kubeletapi.authn import SUBPROTOCOLS_KEY
from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.streaming import handlers, spdy
from vk_controller.provider.capabilities import Capabilities, StreamOptions
from vk_controller.provider.client import ProviderClient
from vk_provider_sdk import AttachSession, ExecSession, PortForwardConnection, Provider, ProviderInfo, errors, serve
from vk_provider_sdk import exit_status as make_exit_status

TOKEN_PROTOCOL = "base64url.bearer.authorization.k8s.io."
ALL = StreamOptions(supported=True, tty=True, stdin=True, separate_stderr=True, exit_status=True, resize=True)
POD = {
    "metadata": {"namespace": "ns", "name": "web", "uid": "uid-web"},
    "spec": {"containers": [{"name": "main"}, {"name": "term", "tty": True, "stdin": True}]},
}


class EchoProvider(Provider):
    """exec: ``echo ARGS``, ``cat`` (stdin to stdout), ``fail N`` (stderr, exit N), ``unknown`` (unknown exit),
    ``sizes N`` (prints N terminal sizes), ``refuse``/``throttle``/``missing`` (errors before start).
    attach: says hello, echoes stdin, exits 0 at its end. port-forward: 7000 echoes, 7001 refuses, 7002 greets."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[streaming_pb2.ExecStart | streaming_pb2.AttachStart] = []
        #: Set when a ``cat`` session ended, however it ended.
        self.cat_ended = asyncio.Event()

    def info(self) -> ProviderInfo:
        return ProviderInfo(name="echo", version="1", capabilities=capabilities_pb2.Capabilities())

    async def node(self) -> node_pb2.Node:
        return node_pb2.Node()

    async def ping(self) -> node_pb2.PingResponse:
        return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_HEALTHY)

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        raise errors.Unimplemented("not here")

    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        raise errors.Unimplemented("not here")

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        raise errors.Unimplemented("not here")

    async def exec(self, session: ExecSession) -> streaming_pb2.ExitStatus:
        self.starts.append(session.start)
        command, *args = session.command
        if command == "refuse":
            raise errors.NotReady("container main is not running", reason="ContainerNotRunning")
        if command == "throttle":
            raise errors.ResourceExhausted("too many sessions", retry_after=3)
        if command == "missing":
            raise errors.NotFound("no such container")
        await session.started()
        if command == "echo":
            await session.write_stdout(" ".join(args).encode() + b"\n")
        elif command == "cat":
            try:
                async for chunk in session.stdin():
                    await session.write_stdout(chunk)
            finally:
                self.cat_ended.set()
        elif command == "fail":
            await session.write_stderr(b"oops\n")
            return make_exit_status(int(args[0]))
        elif command == "unknown":
            return make_exit_status(None)
        elif command == "sizes":
            count = int(args[0])
            async for size in session.resizes():
                await session.write_stdout(f"{size.width}x{size.height}\n".encode())
                count -= 1
                if count == 0:
                    break
        return make_exit_status(0)

    async def attach(self, session: AttachSession) -> streaming_pb2.ExitStatus | None:
        self.starts.append(session.start)
        await session.write_stdout(b"hello from main\n")
        async for chunk in session.stdin():
            await session.write_stdout(chunk)
        return make_exit_status(0)

    async def port_forward(self, connection: PortForwardConnection) -> None:
        if connection.port == 7001:
            raise errors.Unavailable("connection refused: nothing listens on port 7001", reason="ConnectionRefused")
        await connection.started()
        if connection.port == 7002:
            await connection.write(b"hi there")
            return
        while (chunk := await connection.read()) is not None:
            await connection.write(chunk)


@dataclass
class Kubelet:
    url: str
    host: str
    port: int
    provider: EchoProvider
    capabilities: dict[str, Any] = field(default_factory=dict)

    def path(self, kind: str, query: str = "", container: str = "main") -> str:
        tail = "" if kind == "portForward" else f"/{container}"
        return f"/{kind}/ns/web{tail}" + (f"?{query}" if query else "")


@pytest.fixture
async def kubelet() -> AsyncIterator[Kubelet]:
    provider = EchoProvider()
    async with serve(provider) as server:
        client = ProviderClient(server.address)
        declared: dict[str, Any] = {"exec": ALL, "attach": ALL, "port_forward": True}

        def pod(namespace: str, name: str) -> dict[str, Any] | None:
            return POD if (namespace, name) == ("ns", "web") else None

        ctx = KubeletContext(
            node_name="vk-node",
            pod=pod,
            pods=lambda: [POD],
            provider=client,
            capabilities=lambda: Capabilities(**declared),
            provider_name="echo",
        )

        def route(handler: Callable[..., Any]) -> Callable[[web.Request], Any]:
            async def handle(request: web.Request) -> web.StreamResponse:
                response: web.StreamResponse = await handler(request, ctx, dict(request.match_info))
                return response

            return handle

        @web.middleware
        async def strip_token(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
            # As the authenticating middleware does: the bearer-token subprotocol is taken out for the handlers.
            offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
            if any(p.startswith(TOKEN_PROTOCOL) for p in offered):
                request[SUBPROTOCOLS_KEY] = [p for p in offered if not p.startswith(TOKEN_PROTOCOL)]
            response: web.StreamResponse = await handler(request)
            return response

        app = web.Application(middlewares=[strip_token])
        for kind, handler in (("exec", handlers.handle_exec), ("attach", handlers.handle_attach)):
            app.router.add_route("*", f"/{kind}/{{namespace}}/{{pod}}/{{container}}", route(handler))
            app.router.add_route("*", f"/{kind}/{{namespace}}/{{pod}}/{{uid}}/{{container}}", route(handler))
        app.router.add_route("*", "/portForward/{namespace}/{pod}", route(handlers.handle_port_forward))
        app.router.add_route("*", "/portForward/{namespace}/{pod}/{uid}", route(handlers.handle_port_forward))
        test_server = TestServer(app, host="127.0.0.1")
        await test_server.start_server()
        try:
            assert test_server.port is not None
            yield Kubelet(str(test_server.make_url("")).rstrip("/"), "127.0.0.1", test_server.port, provider, declared)
        finally:
            await test_server.close()
            await client.close()


# -- a WebSocket client of the channel protocols ------------------------------------------------------------------


@dataclass
class ChannelResult:
    protocol: str | None
    channels: dict[int, bytes]
    first: tuple[int, bytes] | None
    close_code: int | None


async def ws_session(
    kubelet: Kubelet,
    path: str,
    protocols: tuple[str, ...],
    *,
    send: Sequence[tuple[int, bytes]] = (),
    base64_frames: bool = False,
    within: float = 5.0,
) -> ChannelResult:
    """Connect, send the (channel, payload) messages, and collect everything until the server closes."""
    received: dict[int, bytes] = {}
    first: tuple[int, bytes] | None = None
    async with aiohttp.ClientSession() as http, http.ws_connect(kubelet.url + path, protocols=protocols) as ws:
        for channel, payload in send:
            if base64_frames:
                await ws.send_str(chr(ord("0") + channel) + base64.b64encode(payload).decode())
            else:
                await ws.send_bytes(bytes([channel]) + payload)
        async with asyncio.timeout(within):
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    channel, payload = ord(message.data[0]) - ord("0"), base64.b64decode(message.data[1:])
                elif message.type == aiohttp.WSMsgType.BINARY:
                    channel, payload = message.data[0], message.data[1:]
                else:
                    break
                if first is None:
                    first = (channel, payload)
                received[channel] = received.get(channel, b"") + payload
        return ChannelResult(ws.protocol, received, first, ws.close_code)


async def test_a_user_who_goes_away_ends_the_providers_session(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=cat&input=1&output=1")
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(kubelet.url + path, protocols=("v5.channel.k8s.io",)) as ws,
    ):
        await ws.send_bytes(b"\x00still here\n")
        async with asyncio.timeout(5):
            while (await ws.receive()).data != b"\x01still here\n":
                pass
    async with asyncio.timeout(5):
        await kubelet.provider.cat_ended.wait()


def status(result: ChannelResult) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(result.channels[3])
    return value


async def test_exec_v5_separates_stdout_and_stderr_and_reports_the_exit_code(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=fail&command=3&output=1&error=1")
    result = await ws_session(kubelet, path, ("v5.channel.k8s.io", "v4.channel.k8s.io"))
    assert result.protocol == "v5.channel.k8s.io"
    assert result.first == (1, b"")  # the empty hello on the lowest channel the client reads
    assert result.channels.get(2) == b"oops\n"
    assert result.channels.get(1, b"") == b""
    assert status(result)["status"] == "Failure"
    assert status(result)["reason"] == "NonZeroExitCode"
    assert status(result)["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert result.close_code == 1000


async def test_exec_picks_the_first_protocol_the_client_offers(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=echo&command=hi&output=1")
    result = await ws_session(kubelet, path, ("v4.channel.k8s.io", "v5.channel.k8s.io"))
    assert result.protocol == "v4.channel.k8s.io"
    assert result.channels[1] == b"hi\n"
    assert status(result) == {"metadata": {}, "status": "Success"}


async def test_a_bearer_token_subprotocol_is_never_chosen(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=echo&command=hi&output=1")
    result = await ws_session(kubelet, path, (TOKEN_PROTOCOL + "dG9rZW4", "v4.channel.k8s.io"))
    assert result.protocol == "v4.channel.k8s.io"
    assert result.channels[1] == b"hi\n"


async def test_exec_v5_stdin_close_reaches_the_process(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=cat&input=1&output=1&error=1")
    send = [(0, b"line one\n"), (0, b"line two\n"), (255, b"\x00")]
    result = await ws_session(kubelet, path, ("v5.channel.k8s.io",), send=send)
    assert result.channels[1] == b"line one\nline two\n"
    assert status(result)["status"] == "Success"


async def test_exec_base64_uses_text_frames(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=echo&command=b64&output=1")
    result = await ws_session(kubelet, path, ("v4.base64.channel.k8s.io",))
    assert result.protocol == "v4.base64.channel.k8s.io"
    assert result.channels[1] == b"b64\n"
    assert status(result)["status"] == "Success"


async def test_exec_v1_reports_failure_as_text(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=fail&command=2&output=1&error=1")
    result = await ws_session(kubelet, path, ("channel.k8s.io",))
    assert result.channels[3].startswith(b"command terminated with non-zero exit code")


async def test_exec_unknown_exit_status_is_not_success(kubelet: Kubelet) -> None:
    kubelet.capabilities["exec"] = StreamOptions(supported=True, stdin=True, separate_stderr=True)
    path = kubelet.path("exec", "command=unknown&output=1")
    result = await ws_session(kubelet, path, ("v5.channel.k8s.io",))
    assert status(result)["status"] == "Failure"
    assert "cannot report exit codes" in status(result)["message"]


async def test_exec_tty_forwards_split_and_coalesced_resizes(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=sizes&command=3&input=1&output=1&error=1&tty=1")
    send = [(4, b'{"Width":80,'), (4, b'"Height":24}\n{"Width":100,"Height":30}\n{"width":1'), (4, b'20,"height":40}')]
    result = await ws_session(kubelet, path, ("v5.channel.k8s.io",), send=send)
    assert result.channels[1] == b"80x24\n100x30\n120x40\n"
    start = kubelet.provider.starts[-1]
    assert start.tty
    assert not start.stderr  # a terminal has no separate stderr


@pytest.mark.parametrize(
    ("query", "status_code", "text"),
    [
        ("command=echo", 400, "you must specify at least 1 of stdin, stdout, stderr"),
        ("command=echo&output=true", 400, "you must specify at least 1 of stdin, stdout, stderr"),
        ("command=refuse&output=1", 400, "container main is not running"),
        ("command=missing&output=1", 404, "no such container"),
    ],
)
async def test_exec_refusals_are_http_errors(kubelet: Kubelet, query: str, status_code: int, text: str) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await http.ws_connect(kubelet.url + kubelet.path("exec", query), protocols=("v5.channel.k8s.io",))
    assert caught.value.status == status_code


async def _http(kubelet: Kubelet, path: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(kubelet.url + path, headers=headers) as response:
        return response.status, await response.text(), dict(response.headers)


WS_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
    "Sec-WebSocket-Protocol": "v5.channel.k8s.io",
}


async def test_unknown_pod_uid_mismatch_and_throttling(kubelet: Kubelet) -> None:
    code, text, _ = await _http(kubelet, "/exec/ns/nope/main?command=echo&output=1", **WS_HEADERS)
    assert (code, text) == (404, "pod does not exist\n")
    code, text, _ = await _http(kubelet, "/exec/ns/web/other-uid/main?command=echo&output=1", **WS_HEADERS)
    assert (code, text) == (404, "pod not found\n")
    code, text, headers = await _http(kubelet, kubelet.path("exec", "command=throttle&output=1"), **WS_HEADERS)
    assert (code, text, headers["Retry-After"]) == (429, "too many sessions\n", "3")


async def test_undeclared_capabilities_are_refused_with_a_clear_message(kubelet: Kubelet) -> None:
    kubelet.capabilities["exec"] = StreamOptions()
    code, text, _ = await _http(kubelet, kubelet.path("exec", "command=echo&output=1"), **WS_HEADERS)
    assert (code, text) == (501, "exec is not supported by provider echo\n")
    kubelet.capabilities["exec"] = StreamOptions(supported=True)
    code, text, _ = await _http(kubelet, kubelet.path("exec", "command=cat&input=1&output=1&tty=1"), **WS_HEADERS)
    assert code == 501
    assert "standard input" in text
    kubelet.capabilities["port_forward"] = False
    code, text, _ = await _http(kubelet, kubelet.path("portForward", "port=7000"), **WS_HEADERS)
    assert (code, text) == (501, "port-forward is not supported by provider echo\n")
    assert kubelet.provider.starts == []


async def test_unsupported_websocket_protocol_is_forbidden(kubelet: Kubelet) -> None:
    headers = {**WS_HEADERS, "Sec-WebSocket-Protocol": "v9.channel.k8s.io"}
    code, _, _ = await _http(kubelet, kubelet.path("exec", "command=echo&output=1"), **headers)
    assert code == 403


async def test_attach_uses_the_containers_own_tty(kubelet: Kubelet) -> None:
    path = kubelet.path("attach", "input=1&output=1&error=1", container="term")
    send = [(0, b"typed\n"), (255, b"\x00")]
    result = await ws_session(kubelet, path, ("v5.channel.k8s.io",), send=send)
    assert result.channels[1] == b"hello from main\ntyped\n"
    assert status(result)["status"] == "Success"
    start = kubelet.provider.starts[-1]
    assert isinstance(start, streaming_pb2.AttachStart)
    assert start.tty


# -- port-forward over WebSocket channels --------------------------------------------------------------------------


async def test_port_forward_channels_write_the_port_preamble_and_echo(kubelet: Kubelet) -> None:
    path = kubelet.path("portForward", "port=7000,7001")
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(kubelet.url + path, protocols=("v4.channel.k8s.io",)) as ws,
    ):
        frames: dict[int, list[bytes]] = {}
        async with asyncio.timeout(5):
            while len(frames.get(3, [])) < 2 or len(frames.get(0, [])) < 1:
                message = await ws.receive()
                assert message.type == aiohttp.WSMsgType.BINARY
                frames.setdefault(message.data[0], []).append(message.data[1:])
            assert frames[0][0] == (7000).to_bytes(2, "little")
            assert frames[1][0] == (7000).to_bytes(2, "little")
            assert frames[2][0] == (7001).to_bytes(2, "little")
            assert b"connection refused" in frames[3][1]
            await ws.send_bytes(b"\x00ping")
            message = await ws.receive()
            assert message.data == b"\x00ping"


async def test_port_forward_channels_need_a_port(kubelet: Kubelet) -> None:
    headers = {**WS_HEADERS, "Sec-WebSocket-Protocol": "v4.channel.k8s.io"}
    code, text, _ = await _http(kubelet, kubelet.path("portForward"), **headers)
    assert (code, text) == (400, 'query parameter "port" is required\n')
    code, _, _ = await _http(kubelet, kubelet.path("portForward", "port=0"), **headers)
    assert code == 400


# -- a SPDY/3.1 client built from the framing module -------------------------------------------------------------


class SpdyTestClient:
    """The client side of SPDY/3.1 as client-go speaks it: odd stream ids, SYN_STREAM with headers, DATA, FIN."""

    def __init__(self, send: Callable[[bytes], Any]) -> None:
        self._send = send
        self.encoder = spdy.FrameEncoder()
        self.decoder = spdy.FrameDecoder()
        self._ids = itertools.count(1, 2)
        self.data: dict[int, bytes] = {}
        self.fin: dict[int, asyncio.Event] = {}
        self.replied: set[int] = set()
        self.reset: set[int] = set()
        self.frames: list[spdy.Frame] = []
        self.changed = asyncio.Event()

    def receive(self, data: bytes) -> None:
        for frame in self.decoder.feed(data):
            self.frames.append(frame)
            if isinstance(frame, spdy.SynReplyFrame):
                self.replied.add(frame.stream_id)
            elif isinstance(frame, spdy.DataFrame):
                assert frame.stream_id in self.replied, "DATA before SYN_REPLY"
                self.data[frame.stream_id] = self.data.get(frame.stream_id, b"") + frame.data
                if frame.fin:
                    self.fin.setdefault(frame.stream_id, asyncio.Event()).set()
            elif isinstance(frame, spdy.RstStreamFrame):
                self.reset.add(frame.stream_id)
                self.fin.setdefault(frame.stream_id, asyncio.Event()).set()
        self.changed.set()

    async def write(self, frame: spdy.Frame) -> None:
        await self._send(self.encoder.encode(frame))

    async def open(self, fin: bool = False, **headers: str) -> int:
        stream_id = next(self._ids)
        self.fin.setdefault(stream_id, asyncio.Event())
        await self.write(spdy.SynStreamFrame(stream_id, {k: [v] for k, v in headers.items()}, fin=fin))
        return stream_id

    async def send(self, stream_id: int, data: bytes, fin: bool = False) -> None:
        await self.write(spdy.DataFrame(stream_id, data, fin))

    async def until_fin(self, stream_id: int, within: float = 5.0) -> bytes:
        async with asyncio.timeout(within):
            await self.fin.setdefault(stream_id, asyncio.Event()).wait()
        return self.data.get(stream_id, b"")

    async def until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class RawUpgrade:
    status: int
    headers: dict[str, list[str]]
    body: bytes
    client: SpdyTestClient | None
    reader_task: asyncio.Task[None] | None
    writer: asyncio.StreamWriter

    async def close(self) -> None:
        self.writer.close()
        if self.reader_task is not None:
            self.reader_task.cancel()


async def spdy_upgrade(kubelet: Kubelet, path: str, *protocols: str, method: str = "POST") -> RawUpgrade:
    reader, writer = await asyncio.open_connection(kubelet.host, kubelet.port)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {kubelet.host}", "Connection: Upgrade", "Upgrade: SPDY/3.1"]
    lines += [f"X-Stream-Protocol-Version: {protocol}" for protocol in protocols]
    lines += ["Content-Length: 0", "", ""]
    writer.write("\r\n".join(lines).encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *header_lines = head.decode().split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    code = int(status_line.split()[1])
    if code != 101:
        body = await reader.readexactly(int(headers.get("content-length", ["0"])[0]))
        return RawUpgrade(code, headers, body, None, None, writer)

    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    client = SpdyTestClient(send)

    async def pump() -> None:
        while data := await reader.read(65536):
            client.receive(data)
        client.changed.set()

    return RawUpgrade(code, headers, b"", client, asyncio.create_task(pump()), writer)


async def test_spdy_exec_negotiates_and_streams(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=fail&command=4&input=1&output=1&error=1")
    upgraded = await spdy_upgrade(kubelet, path, "v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
    try:
        assert upgraded.status == 101
        assert upgraded.headers["x-stream-protocol-version"] == ["v4.channel.k8s.io"]
        assert upgraded.headers["upgrade"] == ["SPDY/3.1"]
        client = upgraded.client
        assert client is not None
        await client.write(spdy.PingFrame(1))
        error = await client.open(streamtype="error")
        stdin = await client.open(streamtype="stdin")
        stdout = await client.open(streamtype="stdout")
        stderr = await client.open(streamtype="stderr")
        await client.send(stdin, b"", fin=True)
        assert await client.until_fin(stderr) == b"oops\n"
        assert await client.until_fin(stdout) == b""
        reported = json.loads(await client.until_fin(error))
        assert reported["reason"] == "NonZeroExitCode", reported
        assert reported["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]
        await client.until(lambda: any(isinstance(f, spdy.GoAwayFrame) for f in client.frames))
        assert spdy.PingFrame(1) in client.frames  # the client's ping, echoed
        kinds = {type(f) for f in client.frames}
        assert spdy.SettingsFrame not in kinds
        assert spdy.WindowUpdateFrame not in kinds
    finally:
        await upgraded.close()


async def test_spdy_exec_stdin_round_trip_beyond_the_initial_window(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=cat&input=1&output=1")
    upgraded = await spdy_upgrade(kubelet, path, "v4.channel.k8s.io")
    try:
        client = upgraded.client
        assert client is not None
        error = await client.open(streamtype="error", fin=True)
        stdin = await client.open(streamtype="stdin")
        stdout = await client.open(streamtype="stdout")
        payload = bytes(range(256)) * 1024  # 256 KiB, four times SPDY's initial window, with no WINDOW_UPDATE
        for start in range(0, len(payload), 16384):
            await client.send(stdin, payload[start : start + 16384])
        await client.send(stdin, b"", fin=True)
        assert await client.until_fin(stdout, within=10) == payload
        assert json.loads(await client.until_fin(error)) == {"metadata": {}, "status": "Success"}
    finally:
        await upgraded.close()


async def test_spdy_connection_loss_ends_the_providers_session(kubelet: Kubelet) -> None:
    upgraded = await spdy_upgrade(kubelet, kubelet.path("exec", "command=cat&input=1&output=1"), "v4.channel.k8s.io")
    client = upgraded.client
    assert client is not None
    await client.open(streamtype="error")
    stdin = await client.open(streamtype="stdin")
    stdout = await client.open(streamtype="stdout")
    await client.send(stdin, b"echo me")
    await client.until(lambda: client.data.get(stdout) == b"echo me")
    await upgraded.close()
    async with asyncio.timeout(5):
        await kubelet.provider.cat_ended.wait()


async def test_spdy_exec_tty_resize(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=sizes&command=1&input=1&output=1&tty=1")
    upgraded = await spdy_upgrade(kubelet, path, "v4.channel.k8s.io")
    try:
        client = upgraded.client
        assert client is not None
        error = await client.open(streamtype="error")
        await client.open(streamtype="stdin")
        stdout = await client.open(streamtype="stdout")
        resize = await client.open(streamtype="resize")
        await client.send(resize, b'{"Width":132,"Height":43}\n')
        assert await client.until_fin(stdout) == b"132x43\n"
        assert json.loads(await client.until_fin(error))["status"] == "Success"
    finally:
        await upgraded.close()


async def test_spdy_negotiation_refusals(kubelet: Kubelet) -> None:
    path = kubelet.path("exec", "command=echo&output=1")
    missing = await spdy_upgrade(kubelet, path)
    assert missing.status == 400
    await missing.close()
    mismatch = await spdy_upgrade(kubelet, path, "v9.channel.k8s.io")
    assert mismatch.status == 403
    assert mismatch.headers["x-accepted-stream-protocol-versions"] == [
        "v4.channel.k8s.io",
        "v3.channel.k8s.io",
        "v2.channel.k8s.io",
        "channel.k8s.io",
    ]
    await mismatch.close()


async def _forward_pair(client: SpdyTestClient, port: int, request_id: str) -> tuple[int, int]:
    error = await client.open(streamtype="error", port=str(port), requestid=request_id)
    await client.send(error, b"", fin=True)
    data = await client.open(streamtype="data", port=str(port), requestid=request_id)
    return error, data


async def test_spdy_port_forward_pairs_by_request_id(kubelet: Kubelet) -> None:
    upgraded = await spdy_upgrade(kubelet, kubelet.path("portForward"), "portforward.k8s.io")
    try:
        assert upgraded.headers["x-stream-protocol-version"] == ["portforward.k8s.io"]
        client = upgraded.client
        assert client is not None
        # Two connections whose streams arrive interleaved: pairing must follow requestID, not arrival order.
        error_a = await client.open(streamtype="error", port="7000", requestid="a")
        error_b = await client.open(streamtype="error", port="7002", requestid="b")
        data_b = await client.open(streamtype="data", port="7002", requestid="b")
        data_a = await client.open(streamtype="data", port="7000", requestid="a")
        await client.send(data_a, b"round ")
        await client.send(data_a, b"trip", fin=True)
        assert await client.until_fin(data_a) == b"round trip"
        assert await client.until_fin(error_a) == b""
        assert await client.until_fin(data_b) == b"hi there"
        assert await client.until_fin(error_b) == b""
        # A refused connection: the message on the error stream; the SPDY connection stays up for the next one.
        error_c, _data_c = await _forward_pair(client, 7001, "c")
        message = await client.until_fin(error_c)
        assert message.startswith(b"error forwarding port 7001 to pod ns/web, uid uid-web: connection refused")
        _error_d, data_d = await _forward_pair(client, 7000, "d")
        await client.send(data_d, b"again", fin=True)
        assert await client.until_fin(data_d) == b"again"
    finally:
        await upgraded.close()


async def test_spdy_port_forward_refuses_streams_without_a_port(kubelet: Kubelet) -> None:
    upgraded = await spdy_upgrade(kubelet, kubelet.path("portForward"), "portforward.k8s.io")
    try:
        client = upgraded.client
        assert client is not None
        stream = await client.open(streamtype="data", requestid="x")
        await client.until(lambda: stream in client.reset)
        assert stream not in client.replied
    finally:
        await upgraded.close()


async def test_port_forward_through_the_websocket_tunnel(kubelet: Kubelet) -> None:
    path = kubelet.path("portForward")
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(kubelet.url + path, protocols=("SPDY/3.1+portforward.k8s.io",)) as ws,
    ):
        assert ws.protocol == "SPDY/3.1+portforward.k8s.io"

        async def send(data: bytes) -> None:
            # Split across messages on purpose: message boundaries carry no meaning in the tunnel.
            for start in range(0, len(data), 7):
                await ws.send_bytes(data[start : start + 7])

        client = SpdyTestClient(send)

        async def pump() -> None:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    client.receive(message.data)

        reader = asyncio.create_task(pump())
        try:
            error, data = await _forward_pair(client, 7000, "1")
            await client.send(data, b"through the tunnel", fin=True)
            assert await client.until_fin(data) == b"through the tunnel"
            assert await client.until_fin(error) == b""
        finally:
            reader.cancel()

"""The whole kubelet API server in-process, with its self-signed certificate: TLS with HTTP/1.1 only, the filter in
front of every route, and path parameters checked before any handler runs."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp
import pytest

from vk_controller.kube import KubeClient
from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.server import ServerSettings, serve_kubelet_api
from vk_controller.provider.capabilities import Capabilities
from vk_controller.provider.client import ProviderClient


class Reviews:
    """Token "good" is alice; alice may do anything with nodes/proxy and nodes/pods, nothing else."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def create(self, path: str, body: dict[str, Any]) -> Any:
        self.paths.append(path)
        if body["kind"] == "TokenReview":
            if body["spec"]["token"] == "good":
                return {"status": {"authenticated": True, "user": {"username": "alice"}}}
            return {"status": {"authenticated": False}}
        subresource = body["spec"]["resourceAttributes"]["subresource"]
        return {"status": {"allowed": body["spec"]["user"] == "alice" and subresource in ("proxy", "pods")}}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def kubelet() -> AsyncIterator[str]:
    ctx = KubeletContext(
        node_name="vk-1",
        pod=lambda namespace, name: None,
        pods=lambda: [{"metadata": {"name": "p", "namespace": "ns", "uid": "u"}}],
        provider=cast(ProviderClient, None),
        capabilities=Capabilities,
    )
    port = _port()
    settings = ServerSettings(address="127.0.0.1", port=port, node_addresses=("127.0.0.1",))
    server = asyncio.create_task(serve_kubelet_api(ctx, cast(KubeClient, Reviews()), settings))
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.02)
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)


def _insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def get(url: str, *, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers, ssl=_insecure()) as response:
        return response.status, await response.text()


async def test_every_route_is_behind_the_filter(kubelet: str) -> None:
    assert await get(f"{kubelet}/pods") == (401, "Unauthorized")
    assert await get(f"{kubelet}/nothing-here") == (401, "Unauthorized")
    assert await get(f"{kubelet}/pods", token="bad") == (401, "Unauthorized")
    status, body = await get(f"{kubelet}/pods", token="good")
    assert status == 200
    assert '"kind": "PodList"' in body
    assert await get(f"{kubelet}/stats/summary", token="good") == (
        403,
        "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[stats])",
    )
    assert (await get(f"{kubelet}/nothing-here", token="good"))[0] == 404


async def test_path_parameters_are_checked_before_the_handlers(kubelet: str) -> None:
    for path in ("/exec/ns/Bad_Pod/c", "/attach/ns/p/../c", "/portForward/NS/p", "/containerLogs/ns/p/%20"):
        status, _ = await get(f"{kubelet}{path}", token="good")
        assert 400 <= status < 500, path
    assert (await get(f"{kubelet}/containerLogs/ns/p/c", token="good")) == (404, 'pod "p" does not exist')


async def test_tls_offers_http1_only_with_a_self_signed_certificate(kubelet: str) -> None:
    context = _insecure()
    context.set_alpn_protocols(["h2", "http/1.1"])
    port = int(kubelet.rsplit(":", 1)[1])
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        tls = writer.get_extra_info("ssl_object")
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        writer.close()

"""Node health and changes: Ping and WatchNode (node.proto)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from virtualkubelet.provider.v1 import handshake_pb2, node_pb2, provider_pb2_grpc
from vk_conformance import describe
from vk_conformance.connection import Settings
from vk_conformance.expect import answer, fail

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_ping_reports_healthy(
    handshake: handshake_pb2.HandshakeResponse, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    response = await answer("Ping", stub.Ping(node_pb2.PingRequest(), timeout=min(settings.unary_deadline, 5.0)))
    if response.health != node_pb2.NODE_HEALTH_HEALTHY:
        detail = ": ".join(part for part in (response.reason, response.message) if part) or "no reason or message"
        fail(
            f"expected Ping to answer HEALTHY from a provider under test; "
            f"got {describe.enum_name(node_pb2.NodeHealth, response.health)} ({detail})"
        )


async def test_watch_node_sends_the_node_at_once(
    handshake: handshake_pb2.HandshakeResponse, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    call = stub.WatchNode(node_pb2.WatchNodeRequest())
    try:
        async with asyncio.timeout(settings.timeout):
            async for response in call:
                first = response
                break
            else:
                fail("expected WatchNode to send the Node at once and stay open; it ended with OK and sent nothing")
    except TimeoutError:
        fail(f"expected WatchNode to send the Node at once; got nothing within {settings.timeout:g}s")
    except grpc.aio.AioRpcError as error:
        fail(f"expected WatchNode to send the Node at once; got {describe.rpc_error(error)}")
    finally:
        call.cancel()
    if "pods" not in first.node.capacity:
        fail(
            "expected the Node sent on WatchNode to be complete, with capacity['pods']; "
            f"got capacity {dict(first.node.capacity)}"
        )

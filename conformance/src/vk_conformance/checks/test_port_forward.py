"""Port-forward: one TCP connection per RPC, both half-closes, and the documented errors (streaming.proto)."""

from __future__ import annotations

import uuid

import grpc
import pytest
import pytest_asyncio

from virtualkubelet.provider.v1 import capabilities_pb2, pod_pb2, provider_pb2_grpc
from vk_conformance.connection import Settings
from vk_conformance.expect import fail, require
from vk_conformance.pods import ECHO_PORT, KitPod, PodFactory, wait_finished, wait_running
from vk_conformance.sessions import forward
from vk_conformance.watch import PodWatch

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAYLOAD = b"conformance-ping\n"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def echo_pod(pods: PodFactory, capabilities: capabilities_pb2.Capabilities) -> KitPod:
    """A pod serving a TCP echo on port 8080 (busybox nc -e cat)."""
    require(capabilities, "port_forward.supported")
    kit_pod = pods.echo_server("echo")
    await pods.create(kit_pod)
    return kit_pod


async def test_port_forward_carries_a_tcp_connection_both_ways(
    echo_pod: KitPod, watch: PodWatch, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await wait_running(watch, echo_pod)
    result = await forward(stub, echo_pod.ref, ECHO_PORT, PAYLOAD, within=settings.timeout)
    expected = (
        f"a port-forward to the echo server on port {ECHO_PORT} of {echo_pod} to answer `started`, echo {PAYLOAD!r}, "
        "send `close_write` after the kit's half-close, and end with OK"
    )
    if result.error is not None or result.timed_out or not result.kinds or result.kinds[0] != "started":
        fail(f"expected {expected}; got {result.summary()}")
    if result.data != PAYLOAD or "close_write" not in result.kinds or not result.ended_ok:
        fail(f"expected {expected}; got {result.summary()}")


async def test_port_forward_to_a_closed_port_is_unavailable(
    echo_pod: KitPod, watch: PodWatch, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await wait_running(watch, echo_pod)
    port = ECHO_PORT + 1
    result = await forward(stub, echo_pod.ref, port, PAYLOAD, within=settings.timeout)
    if result.error is None or result.error.code() != grpc.StatusCode.UNAVAILABLE or result.kinds:
        fail(
            f"expected a port-forward to port {port}, where nothing listens, to fail with UNAVAILABLE; "
            f"got {result.summary()}"
        )


async def test_port_forward_to_an_unknown_pod_is_not_found(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings, capabilities: capabilities_pb2.Capabilities
) -> None:
    require(capabilities, "port_forward.supported")
    unknown = pod_pb2.PodRef(uid=str(uuid.uuid4()), namespace="conformance-unknown", name="never-created")
    result = await forward(stub, unknown, ECHO_PORT, PAYLOAD, within=settings.timeout)
    if result.error is None or result.error.code() != grpc.StatusCode.NOT_FOUND or result.kinds:
        fail(
            "expected a port-forward to a pod the provider was never sent to fail with NOT_FOUND; "
            f"got {result.summary()}"
        )


async def test_port_forward_to_an_exited_pod_fails_precondition(
    exited_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "port_forward.supported")
    await wait_finished(watch, exited_pod)
    result = await forward(stub, exited_pod.ref, ECHO_PORT, PAYLOAD, within=settings.timeout)
    if result.error is None or result.error.code() != grpc.StatusCode.FAILED_PRECONDITION or result.kinds:
        fail(
            f"expected a port-forward to the exited {exited_pod} to fail with FAILED_PRECONDITION; "
            f"got {result.summary()}"
        )

"""Attach: a session to a running container's main process begins with `started` (streaming.proto)."""

from __future__ import annotations

import uuid

import grpc
import pytest

from virtualkubelet.provider.v1 import capabilities_pb2, pod_pb2, provider_pb2_grpc, streaming_pb2
from vk_conformance.connection import Settings
from vk_conformance.expect import fail, require
from vk_conformance.plugin import RunningPod
from vk_conformance.pods import CONTAINER, wait_running
from vk_conformance.sessions import attach_until_started
from vk_conformance.watch import PodWatch

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _start(ref: pod_pb2.PodRef, capabilities: capabilities_pb2.Capabilities) -> streaming_pb2.AttachStart:
    return streaming_pb2.AttachStart(
        pod=ref, container=CONTAINER, stdout=True, stderr=capabilities.attach.separate_stderr
    )


async def test_attach_to_a_running_container_begins_with_started(
    running_pod: RunningPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "attach.supported")
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)
    result = await attach_until_started(stub, _start(kit_pod.ref, capabilities), within=settings.timeout)
    if result.first != "started" or result.error is not None:
        fail(f"expected attach to the running {kit_pod} to begin with `started`; got {result.summary()}")


async def test_attach_to_an_unknown_pod_is_not_found(
    handshake: object,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "attach.supported")
    unknown = pod_pb2.PodRef(uid=str(uuid.uuid4()), namespace="conformance-unknown", name="never-created")
    result = await attach_until_started(stub, _start(unknown, capabilities), within=settings.timeout)
    if result.error is None or result.error.code() != grpc.StatusCode.NOT_FOUND or result.kinds:
        fail(f"expected attach to a pod the provider was never sent to fail with NOT_FOUND; got {result.summary()}")

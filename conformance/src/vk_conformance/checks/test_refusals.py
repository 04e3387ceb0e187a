"""Specs a provider cannot run are refused with INVALID_ARGUMENT naming the field, and leave nothing behind
(provider.proto error contract; volume.proto; docs/protocol.md "Version negotiation and evolution")."""

from __future__ import annotations

import grpc
import pytest

from virtualkubelet.provider.v1 import pod_requests_pb2, provider_pb2_grpc, volume_pb2
from vk_conformance.connection import Settings
from vk_conformance.expect import fail, refusal
from vk_conformance.pods import KitPod, PodFactory

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _check_refused(
    kit_pod: KitPod,
    *,
    what: str,
    field: str,
    pods: PodFactory,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
) -> None:
    error = await refusal(
        f"CreatePod of a pod with {what}", pods.create_call(kit_pod), (grpc.StatusCode.INVALID_ARGUMENT,)
    )
    message = error.details() or ""
    if field not in message:
        fail(
            f"expected the INVALID_ARGUMENT message for a pod with {what} to name the field {field!r} "
            f"(users read it in the pod's status); got {message!r}"
        )
    await refusal(
        f"GetPod of the refused pod {kit_pod} (a refused pod is not kept)",
        stub.GetPod(pod_requests_pb2.GetPodRequest(pod=kit_pod.ref), timeout=settings.unary_deadline),
        (grpc.StatusCode.NOT_FOUND,),
    )


async def test_an_unsupported_volume_is_refused_naming_the_field(
    pods: PodFactory, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    volume = volume_pb2.Volume(name="host", unsupported=volume_pb2.UnsupportedVolume(kind="hostPath"))
    kit_pod = pods.refused("hostpath", volumes=[volume])
    await _check_refused(
        kit_pod,
        what="a hostPath volume (UnsupportedVolume)",
        field="spec.volumes[0]",
        pods=pods,
        stub=stub,
        settings=settings,
    )


async def test_a_volume_without_a_known_source_is_refused(
    pods: PodFactory, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    volume = volume_pb2.Volume(name="from-the-future")  # a source added in a later minor arrives as an unset oneof
    kit_pod = pods.refused("future-volume", volumes=[volume])
    await _check_refused(
        kit_pod,
        what="a volume whose source oneof is unset (a source from a later protocol minor)",
        field="spec.volumes[0]",
        pods=pods,
        stub=stub,
        settings=settings,
    )


async def test_an_unknown_enum_value_is_refused(
    pods: PodFactory, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    kit_pod = pods.refused("future-restart-policy", restart_policy=42)
    await _check_refused(
        kit_pod,
        what="restart_policy 42 (an enum value from a later protocol minor)",
        field="restartPolicy",
        pods=pods,
        stub=stub,
        settings=settings,
    )

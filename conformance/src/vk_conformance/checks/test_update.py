"""UpdatePod, when any kind of update is declared: the new revision is stored; unknown UIDs are NOT_FOUND
(pod_requests.proto UpdatePodRequest; capabilities.proto PodUpdateCapabilities, VolumeUpdateCapabilities)."""

from __future__ import annotations

import grpc
import pytest
import pytest_asyncio

from virtualkubelet.provider.v1 import capabilities_pb2, pod_pb2, pod_requests_pb2, provider_pb2_grpc
from vk_conformance.connection import Settings
from vk_conformance.expect import answer, fail, refusal, skip
from vk_conformance.pods import KitPod, PodFactory, wait_running
from vk_conformance.watch import PodWatch

pytestmark = pytest.mark.asyncio(loop_scope="session")

_UPDATE_CAPABILITIES = ("pod_update.image", "pod_update.resources", "pod_update.metadata", "volume_updates.supported")


def _require_some_update(capabilities: capabilities_pb2.Capabilities) -> None:
    declared = (
        capabilities.pod_update.image
        or capabilities.pod_update.resources
        or capabilities.pod_update.metadata
        or capabilities.volume_updates.supported
    )
    if not declared:
        skip(f"the provider declares none of capabilities.{', capabilities.'.join(_UPDATE_CAPABILITIES)}")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def updated_pod(pods: PodFactory, capabilities: capabilities_pb2.Capabilities) -> KitPod:
    _require_some_update(capabilities)
    kit_pod = pods.runs("updated")
    await pods.create(kit_pod)
    return kit_pod


async def test_update_stores_the_new_revision(
    updated_pod: KitPod, watch: PodWatch, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await wait_running(watch, updated_pod)
    desired = pod_pb2.Pod()
    desired.CopyFrom(updated_pod.pod)
    desired.revision = "conformance-2"
    desired.metadata.labels["vk-conformance/updated"] = "true"
    await answer(
        f"UpdatePod of the running {updated_pod} (a label and the revision changed)",
        stub.UpdatePod(pod_requests_pb2.UpdatePodRequest(pod=desired), timeout=settings.unary_deadline),
    )
    got = await answer(
        f"GetPod of {updated_pod}",
        stub.GetPod(pod_requests_pb2.GetPodRequest(pod=updated_pod.ref), timeout=settings.unary_deadline),
    )
    if got.pod.revision not in ("", "conformance-2"):
        fail(
            "expected GetPod to report the updated revision 'conformance-2' (or none if not stored); "
            f"got {got.pod.revision!r}"
        )


async def test_update_of_an_unknown_pod_is_not_found(
    pods: PodFactory,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    _require_some_update(capabilities)
    desired = pods.build("never-created", "exit 0")  # a fresh random UID, never sent in a CreatePod
    await refusal(
        "UpdatePod of a pod the provider was never sent",
        stub.UpdatePod(pod_requests_pb2.UpdatePodRequest(pod=desired), timeout=settings.unary_deadline),
        (grpc.StatusCode.NOT_FOUND,),
    )

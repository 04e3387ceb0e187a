"""The status stream's resync: every new WatchPods stream starts with a snapshot, then `synced`
(pod_requests.proto, WatchPodsResponse)."""

from __future__ import annotations

import asyncio

import pytest

from virtualkubelet.provider.v1 import provider_pb2_grpc, status_pb2
from vk_conformance import describe
from vk_conformance.connection import Settings
from vk_conformance.expect import fail
from vk_conformance.plugin import RunningPod
from vk_conformance.pods import wait_running
from vk_conformance.watch import PodWatch, Snapshot, read_snapshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _check_snapshot(snapshot: Snapshot, running_pod: RunningPod, *, which: str) -> None:
    kit_pod = running_pod.kit_pod
    if snapshot.other_events:
        fail(
            f"expected {which} to start with `pod` events only, then `synced`; "
            f"got {', '.join(snapshot.other_events)} before `synced`"
        )
    record = snapshot.records.get(kit_pod.uid)
    if record is None:
        fail(
            f"expected the snapshot of {which} to contain the existing pod {kit_pod}; "
            f"got {len(snapshot.records)} other pod(s) and then `synced`"
        )
    if record.status.phase != status_pb2.POD_PHASE_RUNNING:
        fail(f"expected the snapshot record of the running pod {kit_pod} to say RUNNING; got {describe.record(record)}")


async def test_a_new_watch_starts_with_a_snapshot_then_synced(
    running_pod: RunningPod, watch: PodWatch, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await wait_running(watch, running_pod.kit_pod)
    snapshot = await read_snapshot(stub, within=settings.timeout)
    _check_snapshot(snapshot, running_pod, which="a second WatchPods stream")


async def test_concurrent_watches_each_get_their_own_snapshot(
    running_pod: RunningPod, watch: PodWatch, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await wait_running(watch, running_pod.kit_pod)
    first, second = await asyncio.gather(
        read_snapshot(stub, within=settings.timeout), read_snapshot(stub, within=settings.timeout)
    )
    _check_snapshot(first, running_pod, which="the first of two concurrent WatchPods streams")
    _check_snapshot(second, running_pod, which="the second of two concurrent WatchPods streams")

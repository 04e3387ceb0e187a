"""What the whole run saw: the status stream kept its shape, and nothing was reported that the kit did not send
(docs/protocol.md "Identity"; pod_requests.proto WatchPodsResponse). Runs last."""

from __future__ import annotations

import pytest

from virtualkubelet.provider.v1 import capabilities_pb2, provider_pb2_grpc, stats_pb2
from vk_conformance.connection import Settings
from vk_conformance.expect import answer, fail
from vk_conformance.pods import PodFactory, list_pods
from vk_conformance.watch import PodWatch, read_snapshot

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_status_stream_kept_its_documented_shape(watch: PodWatch) -> None:
    if watch.broken is not None:
        fail(f"expected the run's WatchPods stream to stay open; {watch.broken}")
    if watch.violations:
        fail("expected every WatchPods event to follow the documented shape; got " + "; ".join(watch.violations))


async def test_no_pod_is_reported_that_was_not_sent(
    watch: PodWatch,
    pods: PodFactory,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    reported: dict[str, set[str]] = {
        "the run's WatchPods stream": set(watch.seen_uids),
        "ListPods": {record.ref.uid for record in await list_pods(stub, deadline=settings.unary_deadline)},
        "a new WatchPods snapshot": set((await read_snapshot(stub, within=settings.timeout)).records),
    }
    if capabilities.stats.supported:
        summary = await answer(
            "GetStatsSummary", stub.GetStatsSummary(stats_pb2.GetStatsSummaryRequest(), timeout=settings.unary_deadline)
        )
        reported["GetStatsSummary"] = {pod.pod.uid for pod in summary.pods}
    known = watch.snapshot_uids | (pods.sent_uids - pods.refused_uids)

    def named(uids: set[str]) -> str:
        def name(uid: str) -> str:
            record = watch.record(uid)
            shown = pods.name(uid) or (f"{record.ref.namespace}/{record.ref.name}" if record else "?")
            return f"{shown} (uid {uid})"

        return ", ".join(sorted(name(uid) for uid in uids))

    for where, uids in reported.items():
        refused = uids & pods.refused_uids
        if refused:
            fail(f"expected pods refused with INVALID_ARGUMENT never to be reported; {where} reported {named(refused)}")
        invented = uids - known
        if invented:
            fail(
                f"expected only pods that existed before the run or that the kit created; {where} reported "
                f"{named(invented)}, which the kit never sent"
            )

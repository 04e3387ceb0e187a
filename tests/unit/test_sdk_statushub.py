"""The status hub: snapshot then synced then changes, per-watcher coalescing by UID, deletions never lost, bounds."""

from __future__ import annotations

import asyncio

import pytest

from virtualkubelet.provider.v1 import pod_pb2, pod_requests_pb2, status_pb2
from vk_provider_sdk import errors
from vk_provider_sdk.statushub import StatusHub, Subscription

PENDING, RUNNING, SUCCEEDED = status_pb2.POD_PHASE_PENDING, status_pb2.POD_PHASE_RUNNING, status_pb2.POD_PHASE_SUCCEEDED


def record(uid: str, phase: status_pb2.PodPhase.ValueType = PENDING) -> status_pb2.PodRecord:
    return status_pb2.PodRecord(
        ref=pod_pb2.PodRef(uid=uid, namespace="ns", name=f"pod-{uid}"), status=status_pb2.PodStatus(phase=phase)
    )


def drain(subscription: Subscription) -> list[str]:
    """Every pending event, as short strings: 'pod a RUNNING', 'deleted a', 'synced'."""
    seen = []
    while (event := subscription.poll()) is not None:
        kind = event.WhichOneof("event")
        if kind == "pod":
            seen.append(f"pod {event.pod.ref.uid} {status_pb2.PodPhase.Name(event.pod.status.phase)[10:]}")
        elif kind == "deleted":
            seen.append(f"deleted {event.deleted.ref.uid}")
        else:
            seen.append("synced")
    return seen


def test_a_new_subscription_gets_every_pod_then_synced_then_changes() -> None:
    hub = StatusHub()
    hub.publish(record("a"))
    hub.publish(record("b"))

    subscription = hub.subscribe()
    assert drain(subscription) == ["pod a PENDING", "pod b PENDING", "synced"]

    hub.publish(record("a", RUNNING))
    assert drain(subscription) == ["pod a RUNNING"]


def test_synced_comes_even_without_pods() -> None:
    assert drain(StatusHub().subscribe()) == ["synced"]


def test_a_slow_watcher_gets_only_the_latest_record_of_each_pod_in_first_change_order() -> None:
    hub = StatusHub()
    subscription = hub.subscribe()
    drain(subscription)

    hub.publish(record("a", PENDING))
    hub.publish(record("b", PENDING))
    hub.publish(record("a", RUNNING))
    hub.publish(record("a", SUCCEEDED))

    assert drain(subscription) == ["pod a SUCCEEDED", "pod b PENDING"]


def test_a_deletion_replaces_a_pending_record_and_is_not_coalesced_away() -> None:
    hub = StatusHub()
    hub.publish(record("a"))
    subscription = hub.subscribe()
    drain(subscription)

    hub.publish(record("a", RUNNING))
    hub.delete(pod_pb2.PodRef(uid="a"), requested=True)
    hub.publish(record("b"))

    events = []
    while (event := subscription.poll()) is not None:
        events.append(event)
    assert [e.WhichOneof("event") for e in events] == ["deleted", "pod"]
    deleted = events[0].deleted
    assert deleted.requested
    assert deleted.ref.name == "pod-a", "the deletion names the pod even when only the UID was given"
    assert deleted.final_status.phase == RUNNING, "the last known status travels with the deletion"
    assert hub.get("a") is None


def test_a_record_after_a_pending_deletion_of_the_same_uid_queues_behind_it() -> None:
    hub = StatusHub()
    hub.publish(record("a"))
    subscription = hub.subscribe()
    drain(subscription)

    hub.delete(pod_pb2.PodRef(uid="a"), requested=False, reason="DeletedInBackend", message="gone")
    hub.publish(record("a", RUNNING))

    assert drain(subscription) == ["deleted a", "pod a RUNNING"]


def test_publishing_an_unchanged_record_sends_nothing() -> None:
    hub = StatusHub()
    hub.publish(record("a"))
    subscription = hub.subscribe()
    drain(subscription)

    hub.publish(record("a"))

    assert drain(subscription) == []


def test_every_watcher_has_its_own_buffer() -> None:
    hub = StatusHub()
    hub.publish(record("a"))
    fast, slow = hub.subscribe(), hub.subscribe()
    assert drain(fast) == ["pod a PENDING", "synced"]

    hub.publish(record("a", RUNNING))
    assert drain(fast) == ["pod a RUNNING"]
    hub.publish(record("b"))

    assert drain(slow) == ["pod a RUNNING", "synced", "pod b PENDING"]
    assert drain(fast) == ["pod b PENDING"]


async def test_a_watcher_that_falls_too_far_behind_is_cut_off_and_its_buffer_freed() -> None:
    hub = StatusHub(max_pending=3)
    subscription = hub.subscribe()
    drain(subscription)

    for uid in "abcd":
        hub.publish(record(uid))

    assert len(subscription) == 0
    assert hub.subscribers == 0
    with pytest.raises(errors.Unavailable, match="fell more than 3 pods behind"):
        await anext(subscription)


async def test_watch_waits_for_changes_and_ends_when_the_hub_closes() -> None:
    hub = StatusHub()
    received: list[pod_requests_pb2.WatchPodsResponse] = []

    async def watch() -> None:
        async for event in hub.watch():
            received.append(event)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    hub.publish(record("a"))
    await asyncio.sleep(0)
    hub.close()
    await asyncio.wait_for(watcher, timeout=1)

    assert [e.WhichOneof("event") for e in received] == ["synced", "pod"]
    assert hub.subscribers == 0


async def test_a_watcher_that_stops_reading_is_unsubscribed() -> None:
    hub = StatusHub()
    events = hub.watch()
    await anext(events)
    assert hub.subscribers == 1

    await events.aclose()

    assert hub.subscribers == 0

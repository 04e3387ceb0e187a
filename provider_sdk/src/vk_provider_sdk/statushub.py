"""The pod status hub: the provider's latest record of every pod, fanned out to every WatchPods stream.

A provider calls :meth:`StatusHub.publish` with a pod's complete ``PodRecord`` after each change and
:meth:`StatusHub.delete` when a pod is gone. Each ``WatchPods`` stream is a :class:`Subscription` that receives one
``pod`` event per existing pod, then ``synced``, then every change, as the protocol requires.

Design decisions:

- **Publishing never waits.** ``publish`` and ``delete`` are synchronous: they update the hub and the pending events
  of every subscriber and return. A slow controller can therefore never slow the provider down, nor another
  watcher (two controllers may watch at once during a leader handover).
- **Per-subscriber buffers coalesce by pod UID.** A subscriber holds at most one pending event slot per pod. Since
  every ``pod`` event carries the complete record, a newer record simply replaces an undelivered older one (the
  protocol allows it: "a provider may coalesce bursts"). Memory per subscriber is bounded by the number of pods.
- **Deletions are never coalesced away.** A deletion replaces the pod's pending record (the record no longer matters,
  the deletion carries the final status). A record published after a pending deletion of the same UID (a new pod
  with a reused UID, which Kubernetes never produces but a buggy backend could) queues behind the deletion, so the
  order of events for one pod is kept.
- **A subscriber that falls hopelessly behind is cut off, not allowed to grow.** Beyond ``max_pending`` slots (only
  possible with heavy churn of distinct UIDs) the subscription ends with UNAVAILABLE; the controller re-handshakes
  and watches again, getting a fresh snapshot, which is exactly how it recovers from any broken stream.
- **Publishing an unchanged record is a no-op**, so providers may publish after every tick without flooding watchers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator

from virtualkubelet.provider.v1 import pod_pb2, pod_requests_pb2, status_pb2
from vk_provider_sdk import errors

#: Default bound on the distinct pods with undelivered events per subscriber.
DEFAULT_MAX_PENDING = 100_000

_SYNCED = pod_requests_pb2.WatchPodsResponse(synced=pod_requests_pb2.Synced())


class StatusHub:
    """The latest ``PodRecord`` per UID and the subscribers that watch them."""

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._records: dict[str, status_pb2.PodRecord] = {}
        self._subscribers: set[Subscription] = set()
        self._max_pending = max_pending
        self._closed = False

    # -- the provider's side --------------------------------------------------------------------------------------

    def publish(self, record: status_pb2.PodRecord) -> None:
        """Record a pod's complete current state and tell every subscriber; a no-op if nothing changed."""
        uid = record.ref.uid
        if not uid:
            raise ValueError("a PodRecord needs ref.uid")
        if self._records.get(uid) == record:
            return
        stored = status_pb2.PodRecord()
        stored.CopyFrom(record)
        self._records[uid] = stored
        event = pod_requests_pb2.WatchPodsResponse(pod=stored)
        for subscriber in list(self._subscribers):
            subscriber._offer(uid, event, deletion=False)

    def delete(
        self,
        ref: pod_pb2.PodRef,
        *,
        requested: bool,
        reason: str = "",
        message: str = "",
        final_status: status_pb2.PodStatus | None = None,
    ) -> None:
        """Forget a pod and send a ``deleted`` event: ``requested`` after DeletePod, else with reason and message."""
        known = self._records.pop(ref.uid, None)
        if final_status is None and known is not None:
            final_status = known.status
        deleted = pod_requests_pb2.PodDeleted(requested=requested, reason=reason, message=message)
        deleted.ref.CopyFrom(known.ref if known is not None and not ref.name else ref)
        if final_status is not None:
            deleted.final_status.CopyFrom(final_status)
        event = pod_requests_pb2.WatchPodsResponse(deleted=deleted)
        for subscriber in list(self._subscribers):
            subscriber._offer(ref.uid, event, deletion=True)

    def close(self) -> None:
        """End every subscription (the provider is shutting down); later subscriptions end after their snapshot."""
        self._closed = True
        for subscriber in list(self._subscribers):
            subscriber._end(None)

    # -- readers --------------------------------------------------------------------------------------------------

    def get(self, uid: str) -> status_pb2.PodRecord | None:
        """The latest record of a pod, or None. Do not modify it: it is shared with the subscribers."""
        return self._records.get(uid)

    def records(self) -> list[status_pb2.PodRecord]:
        """The latest record of every pod."""
        return list(self._records.values())

    def __len__(self) -> int:
        return len(self._records)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscription:
        """A new subscription, starting with the snapshot of every current record and ``synced``."""
        subscription = Subscription(self, max_pending=self._max_pending)
        for uid, record in self._records.items():
            subscription._offer(uid, pod_requests_pb2.WatchPodsResponse(pod=record), deletion=False)
        subscription._offer_synced()
        if self._closed:
            subscription._end(None)
        else:
            self._subscribers.add(subscription)
        return subscription

    async def watch(self) -> AsyncGenerator[pod_requests_pb2.WatchPodsResponse, None]:
        """The events of a new subscription, until the hub closes; unsubscribes when the caller stops iterating."""
        subscription = self.subscribe()
        try:
            async for event in subscription:
                yield event
        finally:
            subscription.cancel()

    def _remove(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)


class Subscription:
    """One watcher's pending events: at most one slot per pod UID, in the order the pods first became pending."""

    def __init__(self, hub: StatusHub, *, max_pending: int) -> None:
        self._hub = hub
        self._max_pending = max_pending
        # uid -> the pending events of that pod, oldest first (at most a deletion and a record). The key None is
        # the `synced` marker, so that it keeps its place after the snapshot.
        self._pending: dict[str | None, deque[pod_requests_pb2.WatchPodsResponse]] = {}
        self._wakeup = asyncio.Event()
        self._ended = False
        self._error: errors.ProviderError | None = None

    def __len__(self) -> int:
        """The number of pods (and the synced marker) with undelivered events."""
        return len(self._pending)

    def _offer(self, uid: str, event: pod_requests_pb2.WatchPodsResponse, *, deletion: bool) -> None:
        if self._ended:
            return
        slot = self._pending.get(uid)
        if slot is None:
            if len(self._pending) >= self._max_pending:
                self._end(
                    errors.Unavailable(
                        f"this WatchPods stream fell more than {self._max_pending} pods behind; watch again",
                        reason="WatcherTooSlow",
                    )
                )
                return
            self._pending[uid] = deque([event])
        elif deletion:
            slot.clear()
            slot.append(event)
        elif slot[-1].HasField("deleted"):
            slot.append(event)
        else:
            slot[-1] = event
        self._wakeup.set()

    def _offer_synced(self) -> None:
        self._pending[None] = deque([_SYNCED])
        self._wakeup.set()

    def _end(self, error: errors.ProviderError | None) -> None:
        self._ended = True
        self._error = error
        if error is not None:
            self._pending.clear()  # free the buffer now; the watcher will get a fresh snapshot
        self._hub._remove(self)
        self._wakeup.set()

    def cancel(self) -> None:
        """Stop receiving events (the watcher went away)."""
        self._ended = True
        self._pending.clear()
        self._hub._remove(self)
        self._wakeup.set()

    def poll(self) -> pod_requests_pb2.WatchPodsResponse | None:
        """The next pending event without waiting, or None."""
        for key, slot in self._pending.items():
            event = slot.popleft()
            if not slot:
                del self._pending[key]
            return event
        return None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> pod_requests_pb2.WatchPodsResponse:
        while True:
            event = self.poll()
            if event is not None:
                return event
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()


__all__ = ["DEFAULT_MAX_PENDING", "StatusHub", "Subscription"]

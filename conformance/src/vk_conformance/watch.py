"""The status stream, as the controller consumes it: one WatchPods call open for the whole run.

``WatchPods`` is the only way pod status reaches Kubernetes (the controller never polls), so the kit waits on it
too: every "the pod reaches state X" check waits for an event on this stream, bounded by ``--timeout``. The watch
also keeps what a failure message needs (the last record and the recent history of each pod) and what the
bookkeeping checks need (the pods present before the kit started, every UID ever reported, stream-shape
violations such as a second ``synced``).

:func:`read_snapshot` opens a separate, short-lived stream for the resync checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from virtualkubelet.provider.v1 import pod_requests_pb2, provider_pb2_grpc, status_pb2
from vk_conformance import describe
from vk_conformance.expect import fail


@dataclass
class PodTrace:
    """What the stream said about one pod."""

    record: status_pb2.PodRecord | None = None
    deleted: pod_requests_pb2.PodDeleted | None = None
    history: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if not self.history or self.history[-1] != text:
            self.history.append(text)

    def last_seen(self) -> str:
        if not self.history:
            return "WatchPods sent nothing for this pod"
        return f"last status seen: {self.history[-1]} (history: {describe.history(self.history)})"


class PodWatch:
    def __init__(self, stub: provider_pb2_grpc.ProviderServiceAsyncStub, *, timeout: float) -> None:
        self._stub = stub
        self._timeout = timeout
        self._pods: dict[str, PodTrace] = {}
        self._changed = asyncio.Event()
        self._synced = asyncio.Event()
        self._call: grpc.aio.UnaryStreamCall[pod_requests_pb2.WatchPodsRequest, pod_requests_pb2.WatchPodsResponse]
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Why the stream ended, if it did (it never should while the provider runs).
        self.broken: str | None = None
        #: UIDs in the snapshot, i.e. pods the provider had before the kit created any.
        self.snapshot_uids: set[str] = set()
        #: Every UID the stream ever mentioned.
        self.seen_uids: set[str] = set()
        #: Departures from the stream's documented shape.
        self.violations: list[str] = []

    async def start(self) -> None:
        """Open the stream and wait for its snapshot to end with ``synced``."""
        self._call = self._stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
        self._task = asyncio.create_task(self._consume(), name="vk-conformance WatchPods")
        deadline = time.monotonic() + self._timeout
        try:
            while not self._synced.is_set():
                if self.broken is not None:
                    fail(f"expected WatchPods to send its snapshot and then `synced`; {self.broken}")
                if not await self._changed_before(deadline):
                    fail(
                        f"expected WatchPods to send its snapshot and then `synced` within {self._timeout:g}s; "
                        f"got {len(self._pods)} pod event(s) and no `synced`"
                    )
        except BaseException:
            await self.stop()
            raise
        self.snapshot_uids = set(self._pods)

    async def stop(self) -> None:
        self._stopping = True
        self._call.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def trace(self, uid: str) -> PodTrace:
        return self._pods.setdefault(uid, PodTrace())

    def record(self, uid: str) -> status_pb2.PodRecord | None:
        return self.trace(uid).record

    async def wait_for(
        self,
        uid: str,
        goal: str,
        predicate: Callable[[status_pb2.PodRecord], bool],
        *,
        hopeless: Callable[[status_pb2.PodRecord], str | None] = lambda _record: None,
    ) -> status_pb2.PodRecord:
        """The first record of ``uid`` that satisfies ``predicate``; fails with ``goal`` and what was seen.

        ``hopeless`` says why a record can never lead to the goal (e.g. a finished pod will not run again), so the
        check fails at once instead of at the timeout.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            trace = self.trace(uid)
            if trace.record is not None and predicate(trace.record):
                return trace.record
            why = hopeless(trace.record) if trace.record is not None else None
            if why is not None:
                fail(f"expected {goal} on WatchPods; got {describe.record(trace.record)}, {why}")
            if trace.deleted is not None:
                fail(
                    f"expected {goal} within {self._timeout:g}s on WatchPods; got {describe.deleted(trace.deleted)} "
                    f"instead ({trace.last_seen()})"
                )
            if self.broken is not None:
                fail(f"expected {goal} on WatchPods; {self.broken} ({trace.last_seen()})")
            if not await self._changed_before(deadline):
                fail(f"expected {goal} within {self._timeout:g}s on WatchPods; {trace.last_seen()}")

    async def wait_for_deleted(self, uid: str, goal: str) -> pod_requests_pb2.PodDeleted:
        """The ``deleted`` event of ``uid``; fails with ``goal`` and what was seen."""
        deadline = time.monotonic() + self._timeout
        while True:
            trace = self.trace(uid)
            if trace.deleted is not None:
                return trace.deleted
            if self.broken is not None:
                fail(f"expected {goal} on WatchPods; {self.broken} ({trace.last_seen()})")
            if not await self._changed_before(deadline):
                fail(f"expected {goal} within {self._timeout:g}s on WatchPods; {trace.last_seen()}")

    async def _changed_before(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), remaining)
        except TimeoutError:
            return False
        return True

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _consume(self) -> None:
        try:
            async for event in self._call:
                self._apply(event)
                self._notify()
            self.broken = "the provider ended the WatchPods stream with OK (it must stay open while the provider runs)"
        except grpc.aio.AioRpcError as error:
            if not self._stopping:
                self.broken = f"the WatchPods stream failed with {describe.rpc_error(error)}"
        except asyncio.CancelledError:
            if not self._stopping:
                self.broken = "the WatchPods stream was cancelled"
        finally:
            self._notify()

    def _apply(self, event: pod_requests_pb2.WatchPodsResponse) -> None:
        kind = event.WhichOneof("event")
        if kind == "pod":
            uid = event.pod.ref.uid
            if not uid:
                self.violations.append(f"a `pod` event without ref.uid: {describe.record(event.pod)}")
                return
            trace = self.trace(uid)
            if trace.deleted is not None:
                self.violations.append(f"a `pod` event for {describe.ref(event.pod.ref)} after its `deleted` event")
                trace.deleted = None
            trace.record = event.pod
            trace.note(describe.record(event.pod))
            self.seen_uids.add(uid)
        elif kind == "deleted":
            uid = event.deleted.ref.uid
            trace = self.trace(uid)
            trace.deleted = event.deleted
            trace.note(describe.deleted(event.deleted))
            self.seen_uids.add(uid)
        elif kind == "synced":
            if self._synced.is_set():
                self.violations.append("a second `synced` event on the same stream (it is sent exactly once)")
            self._synced.set()
        else:
            self.violations.append("an event with none of `pod`, `deleted`, `synced` set")


@dataclass
class Snapshot:
    """The start of a fresh WatchPods stream: the records before ``synced``."""

    records: dict[str, status_pb2.PodRecord]
    #: Events of other kinds seen before ``synced`` (there should be none).
    other_events: list[str]


async def read_snapshot(stub: provider_pb2_grpc.ProviderServiceAsyncStub, *, within: float) -> Snapshot:
    """Open a new WatchPods stream, read it up to ``synced``, and close it."""
    call = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
    records: dict[str, status_pb2.PodRecord] = {}
    other: list[str] = []
    try:
        async with asyncio.timeout(within):
            async for event in call:
                kind = event.WhichOneof("event")
                if kind == "synced":
                    return Snapshot(records, other)
                if kind == "pod":
                    records[event.pod.ref.uid] = event.pod
                else:
                    other.append(kind or "an empty event")
    except TimeoutError:
        fail(
            f"expected a new WatchPods stream to send its snapshot and then `synced` within {within:g}s; "
            f"got {len(records)} pod event(s) and no `synced`"
        )
    except grpc.aio.AioRpcError as error:
        fail(f"expected a new WatchPods stream to send its snapshot and `synced`; got {describe.rpc_error(error)}")
    finally:
        call.cancel()
    fail(f"expected a new WatchPods stream to send `synced`; it ended with OK after {len(records)} pod event(s)")

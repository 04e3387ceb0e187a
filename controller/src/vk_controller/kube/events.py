"""Kubernetes Events, the user-facing record of what the node did, written without slowing anyone down.

Callers never wait: :meth:`EventRecorder.record` puts the event on a bounded queue and one task writes them. As
the kubelet's event correlator does, a repeat of the same event (same object, type, reason and message) within
the aggregation window increments the existing Event's ``count`` instead of creating another, and writes are
rate-limited by a token bucket (the kubelet's defaults: 50 per second, bursts of 100). When the queue is full the
newest event is dropped and counted; losing an Event must never block a pod's reconcile.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from vk_controller.kube.client import STRATEGIC_MERGE_PATCH, KubeClient
from vk_controller.kube.errors import ApiError, NotFound
from vk_controller.kube.times import format_time, now

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    name: str
    namespace: str = ""
    uid: str = ""
    api_version: str = "v1"
    field_path: str = ""

    def as_json(self) -> dict[str, str]:
        ref = {"kind": self.kind, "name": self.name, "apiVersion": self.api_version}
        if self.namespace:
            ref["namespace"] = self.namespace
        if self.uid:
            ref["uid"] = self.uid
        if self.field_path:
            ref["fieldPath"] = self.field_path
        return ref


def pod_ref(pod: dict[str, Any], container: str | None = None) -> ObjectRef:
    meta = pod["metadata"]
    field_path = f"spec.containers{{{container}}}" if container else ""
    return ObjectRef(
        kind="Pod",
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        field_path=field_path,
    )


def _now() -> str:
    return format_time(now())


@dataclass
class _Pending:
    ref: ObjectRef
    type: str
    reason: str
    message: str


class EventRecorder:
    def __init__(
        self,
        kube: KubeClient,
        *,
        host: str,
        component: str = "vk-controller",
        queue_size: int = 1000,
        rate: float = 50.0,
        burst: int = 100,
        aggregation_window: float = 600.0,
        remembered: int = 4096,
    ) -> None:
        self._kube = kube
        self._host = host
        self._component = component
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(queue_size)
        self._rate = rate
        self._burst = burst
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self._window = aggregation_window
        self._remembered = remembered
        # (namespace, uid, type, reason, message) -> (event name, count, first seen monotonic)
        self._seen: OrderedDict[tuple[str, str, str, str, str], tuple[str, int, float]] = OrderedDict()
        self.dropped = 0
        self.written = 0

    def record(self, ref: ObjectRef, event_type: str, reason: str, message: str) -> None:
        """Queue an Event about ``ref``; never blocks, never raises."""
        try:
            self._queue.put_nowait(_Pending(ref, event_type, reason, message[:1024]))
        except asyncio.QueueFull:
            self.dropped += 1

    async def _take_token(self) -> None:
        while True:
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._rate)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self._rate)

    async def _write(self, pending: _Pending) -> None:
        ref = pending.ref
        namespace = ref.namespace or "default"
        key = (namespace, ref.uid or ref.name, pending.type, pending.reason, pending.message)
        seen = self._seen.get(key)
        if seen is not None and time.monotonic() - seen[2] < self._window:
            name, count, first = seen
            try:
                await self._kube.patch(
                    f"/api/v1/namespaces/{namespace}/events/{name}",
                    {"count": count + 1, "lastTimestamp": _now()},
                    content_type=STRATEGIC_MERGE_PATCH,
                )
                self._seen[key] = (name, count + 1, first)
                self._seen.move_to_end(key)
                return
            except NotFound:
                pass
        name = f"{ref.name}.{uuid.uuid4().hex[:16]}"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref.as_json(),
            "reason": pending.reason,
            "message": pending.message,
            "type": pending.type,
            "source": {"component": self._component, "host": self._host},
            "reportingComponent": self._component,
            "reportingInstance": self._host,
            "firstTimestamp": _now(),
            "lastTimestamp": _now(),
            "eventTime": None,
            "count": 1,
        }
        await self._kube.create(f"/api/v1/namespaces/{namespace}/events", body)
        self._seen[key] = (name, 1, time.monotonic())
        while len(self._seen) > self._remembered:
            self._seen.popitem(last=False)

    async def run(self) -> None:
        while True:
            pending = await self._queue.get()
            await self._take_token()
            try:
                await self._write(pending)
                self.written += 1
            except ApiError as error:
                log.warning(
                    "event %s for %s/%s not written: %s", pending.reason, pending.ref.kind, pending.ref.name, error
                )
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued event was written or given up on; for shutdown and tests."""
        await self._queue.join()

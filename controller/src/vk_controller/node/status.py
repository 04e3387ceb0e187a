"""The Node's status: Ready from the provider's health, the rest from its template; patched on change and every
``update_frequency`` seconds (the kubelet's nodeStatusReportFrequency) as a heartbeat.

Conditions are written with a strategic merge patch keyed by condition type, so conditions that other components
write (a node-problem-detector, say) are left alone. ``lastTransitionTime`` moves only when a condition's status
does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from vk_controller.kube import ApiError, KubeClient
from vk_controller.kube.client import STRATEGIC_MERGE_PATCH
from vk_controller.kube.events import NORMAL, WARNING, EventRecorder, ObjectRef
from vk_controller.kube.times import format_time, now
from vk_controller.node.registration import NodeSpec
from vk_controller.node.template import Json

log = logging.getLogger(__name__)


class NodeStatus:
    def __init__(
        self,
        kube: KubeClient,
        events: EventRecorder,
        *,
        spec: NodeSpec,
        update_frequency: float = 60.0,
        retry_interval: float = 1.0,
    ) -> None:
        self._kube = kube
        self._events = events
        self.spec = spec
        self._frequency = update_frequency
        self._retry = retry_interval
        self._ready = False
        self._reason = "ProviderNotConnected"
        self._message = "the controller has not reached the provider yet"
        self._transitions: dict[str, tuple[str, str]] = {}  # type -> (status, lastTransitionTime)
        self._changed = asyncio.Event()
        self._node_uid = ""
        self.patches = 0

    @property
    def ready(self) -> bool:
        return self._ready

    def set_node_uid(self, uid: str) -> None:
        self._node_uid = uid

    def set_health(self, ready: bool, reason: str, message: str) -> None:
        if (ready, reason, message) == (self._ready, self._reason, self._message):
            return
        was = self._ready
        self._ready, self._reason, self._message = ready, reason, message
        if was != ready:
            ref = ObjectRef(kind="Node", name=self.spec.name, uid=self._node_uid)
            if ready:
                self._events.record(ref, NORMAL, "NodeReady", f"Node {self.spec.name} status is now: NodeReady")
            else:
                self._events.record(
                    ref, WARNING, "NodeNotReady", f"Node {self.spec.name} status is now: NodeNotReady ({message})"
                )
            log.info("node ready=%s: %s: %s", ready, reason, message)
        self._changed.set()

    def set_spec(self, spec: NodeSpec) -> None:
        if spec != self.spec:
            self.spec = spec
            self._changed.set()

    def _stamp(self, kind: str, status: str, stamp: str) -> str:
        before = self._transitions.get(kind)
        if before and before[0] == status:
            return before[1]
        self._transitions[kind] = (status, stamp)
        return stamp

    def conditions(self) -> list[Json]:
        stamp = format_time(now())
        ready: Json = {
            "type": "Ready",
            "status": "True" if self._ready else "False",
            "reason": self._reason or ("KubeletReady" if self._ready else "ProviderUnhealthy"),
            "message": self._message,
        }
        out = []
        for condition in [ready, *self.spec.template.conditions]:
            merged = dict(condition)
            merged["lastHeartbeatTime"] = stamp
            merged["lastTransitionTime"] = condition.get("lastTransitionTime") or self._stamp(
                condition["type"], condition["status"], stamp
            )
            out.append(merged)
        return out

    def body(self) -> dict[str, Any]:
        return {"status": {**self.spec.static_status(), "conditions": self.conditions()}}

    async def patch(self) -> None:
        await self._kube.patch(
            f"/api/v1/nodes/{self.spec.name}/status", self.body(), content_type=STRATEGIC_MERGE_PATCH
        )
        self.patches += 1

    async def run(self) -> None:
        while True:
            self._changed.clear()
            try:
                await self.patch()
            except ApiError as error:
                log.warning("node status update failed: %s", error)
                await asyncio.sleep(self._retry)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=self._frequency)

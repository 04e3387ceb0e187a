"""The node's Lease in ``kube-node-lease``: the heartbeat the node lifecycle controller watches.

Renewed every ``renew_interval`` (10 s, the kubelet's default) with a ``leaseDurationSeconds`` of 40. The lease is
renewed whether or not the provider is healthy: the lease says the kubelet is alive, the Ready condition says
whether the node can run pods. A failed renewal is retried quickly (the kubelet retries at 200 ms, doubling) so
that one lost request does not let the lease lapse. The Lease is owned by the Node, so deleting the Node removes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from vk_controller.kube import ApiError, Conflict, KubeClient, NotFound
from vk_controller.kube.times import format_micro_time, now
from vk_controller.metrics import Metrics

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases"


class LeaseKeeper:
    def __init__(
        self,
        kube: KubeClient,
        *,
        node_name: str,
        node_uid: Callable[[], str | None],
        duration_seconds: int = 40,
        renew_interval: float = 10.0,
        holder_identity: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._kube = kube
        self._node_name = node_name
        self._node_uid = node_uid
        self._duration = duration_seconds
        self._interval = renew_interval
        self._holder = holder_identity or node_name
        self._lease: dict[str, Any] | None = None
        self.renewals = 0
        self.failures = 0
        metrics = metrics or Metrics()
        self._renewal_seconds = metrics.lease_renewal
        self._failure_count = metrics.lease_failures

    def _spec(self) -> dict[str, Any]:
        return {
            "holderIdentity": self._holder,
            "leaseDurationSeconds": self._duration,
            "renewTime": format_micro_time(now()),
        }

    async def renew(self) -> None:
        path = f"{LEASES}/{self._node_name}"
        if self._lease is None:
            try:
                self._lease = await self._kube.get(path)
            except NotFound:
                metadata: dict[str, Any] = {"name": self._node_name, "namespace": LEASE_NAMESPACE}
                uid = self._node_uid()
                if uid:
                    metadata["ownerReferences"] = [
                        {"apiVersion": "v1", "kind": "Node", "name": self._node_name, "uid": uid}
                    ]
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata}
                self._lease = await self._kube.create(LEASES, {**body, "spec": self._spec()})
                self.renewals += 1
                return
        lease = self._lease
        assert lease is not None
        updated = {**lease, "spec": {**lease.get("spec", {}), **self._spec()}}
        try:
            self._lease = await self._kube.replace(path, updated)
        except (Conflict, NotFound):
            self._lease = None  # someone else wrote it, or it was deleted: re-read on the next try
            raise
        self.renewals += 1

    async def run(self) -> None:
        while True:
            retry = 0.2
            while True:
                started = time.perf_counter()
                try:
                    await self.renew()
                    self._renewal_seconds.observe(time.perf_counter() - started)
                    break
                except ApiError as error:
                    self.failures += 1
                    self._failure_count.inc()
                    log.warning("lease renewal failed (%s); retrying in %.1fs", error, retry)
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, self._interval)
            await asyncio.sleep(self._interval)

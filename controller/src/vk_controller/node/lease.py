"""The node's Lease in ``kube-node-lease``: the heartbeat the node lifecycle controller watches.

Renewed every ``renew_interval`` (10 s, the kubelet's default) with a ``leaseDurationSeconds`` of 40. The lease is
renewed whether or not the provider is healthy: the lease says the kubelet is alive, the Ready condition says
whether the node can run pods. A failed renewal is retried quickly (the kubelet retries at 200 ms, doubling) so
that one lost request does not let the lease lapse. The Lease is owned by the Node, so deleting the Node removes it.

The same Lease is the lock for leader election between replicas of the controller for one node (a node identity
may touch no other Lease). With ``leader_election`` the keeper renews under its replica's own holder identity:
:meth:`LeaseKeeper.acquire` waits while another holder's renewals are fresh and takes the Lease over once they
have lapsed for ``leaseDurationSeconds``; :meth:`LeaseKeeper.run` raises :class:`LeadershipLost` when another
holder took it or when its own renewals have failed for that long, so the process stops acting at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from vk_controller.kube import ApiError, Conflict, KubeClient, NotFound
from vk_controller.kube.times import format_micro_time, now, parse_time
from vk_controller.metrics import Metrics

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases"


class LeadershipLost(Exception):
    """Another replica holds the node's Lease now (or ours lapsed): this replica must stop acting for the node."""


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
        leader_election: bool = False,
        retry_period: float = 2.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._kube = kube
        self._node_name = node_name
        self._node_uid = node_uid
        self._duration = duration_seconds
        self._interval = renew_interval
        self._holder = holder_identity or node_name
        self._leader_election = leader_election
        self._retry_period = retry_period
        self._last_renewal = time.monotonic()
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

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def _path(self) -> str:
        return f"{LEASES}/{self._node_name}"

    async def acquire(self) -> None:
        """Wait until this replica holds the Lease (leader election only)."""
        announced = False
        while True:
            try:
                lease = await self._kube.get(self._path)
            except NotFound:
                await self.renew()  # creates it, held by us
                return
            except ApiError as error:
                log.warning("reading the node's lease failed (%s)", error)
                await asyncio.sleep(self._retry_period)
                continue
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            if holder == self._holder or not holder or _lapsed(spec):
                transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self._holder else 1)
                taken = {
                    **lease,
                    "spec": {
                        **spec,
                        **self._spec(),
                        "acquireTime": format_micro_time(now()),
                        "leaseTransitions": transitions,
                    },
                }
                try:
                    self._lease = await self._kube.replace(self._path, taken)
                except ApiError as error:  # Conflict: another standby was quicker; look again
                    log.info("taking the node's lease failed (%s); looking again", error)
                    await asyncio.sleep(self._retry_period)
                    continue
                self._last_renewal = time.monotonic()
                self.renewals += 1
                log.info(
                    "this replica (%s) now leads node %s (lease was held by %s)", self._holder, self._node_name, holder
                )
                return
            if not announced:
                log.info("standing by: %s leads node %s", holder, self._node_name)
                announced = True
            await asyncio.sleep(self._retry_period)

    async def renew(self) -> None:
        path = self._path
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
        holder = (lease.get("spec") or {}).get("holderIdentity")
        if self._leader_election and holder not in (None, self._holder):
            raise LeadershipLost(f"{holder} holds the lease of node {self._node_name} now")
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
                    self._last_renewal = time.monotonic()
                    break
                except ApiError as error:
                    self.failures += 1
                    self._failure_count.inc()
                    if self._leader_election and time.monotonic() - self._last_renewal > self._duration:
                        raise LeadershipLost(
                            f"the lease of node {self._node_name} was not renewed for {self._duration}s"
                        ) from error
                    log.warning("lease renewal failed (%s); retrying in %.1fs", error, retry)
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, self._interval)
            await asyncio.sleep(self._interval)


def _lapsed(spec: dict[str, Any]) -> bool:
    """Whether the holder's last renewal is older than the lease's duration."""
    renewed = spec.get("renewTime")
    if not renewed:
        return True
    age = (now() - parse_time(renewed)).total_seconds()
    return age > float(spec.get("leaseDurationSeconds") or 40)

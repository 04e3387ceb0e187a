"""The controller's Prometheus metrics, all defined here, and the plain HTTP server that exposes them.

Each :class:`Metrics` has its own ``CollectorRegistry`` (never the process-global one), so two nodes in one process,
or two tests, never see each other's series. A process serving several nodes exposes them together
(:class:`NodesExposition`), each series labelled with its ``node``: per-node registries keep the components and
their hot paths unaware of how many nodes share the process, and a node restarted on its own simply gets a fresh
registry. Components take a ``Metrics`` and record into it; the hot paths only
observe into label children resolved once (a dict lookup and a lock-free add), and values that already exist
elsewhere (queue depths, pods by phase) are read at scrape time by a custom collector instead of being kept up to
date on every change.

``/metrics`` is served on ``--metrics-bind-address``:``--metrics-port`` (default ``0.0.0.0:10255``; port 0: off)
without authentication, like the kubelet's read-only port: it carries counts and latencies, no pod contents.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: Results of one reconcile, as controller-runtime labels them.
RESULTS = ("done", "requeue", "retry", "terminal")
#: Pod phases always reported (at 0 when no pod has them), so dashboards see every series.
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_WAIT = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0)


class Queue(Protocol):
    """What the depth gauges need of a work queue."""

    name: str

    def __len__(self) -> int: ...

    @property
    def processing(self) -> int: ...


class _LiveState(Collector):
    """Gauges computed when scraped: queue depths and pods by phase."""

    def __init__(self) -> None:
        self.queues: list[Queue] = []
        self.pods: Callable[[], Iterable[Mapping[str, Any]]] | None = None

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("vk_workqueue_depth", "Keys waiting in a work queue.", labels=["queue"])
        busy = GaugeMetricFamily("vk_workqueue_in_flight", "Keys being reconciled by a worker.", labels=["queue"])
        for queue in self.queues:
            depth.add_metric([queue.name], len(queue))
            busy.add_metric([queue.name], queue.processing)
        yield depth
        yield busy
        if self.pods is not None:
            tally = pods_by_phase(self.pods())
            pods = GaugeMetricFamily(
                "vk_pods", "Pods bound to this node, by phase (from the pod watch).", labels=["phase"]
            )
            for phase, count in sorted(tally.items()):
                pods.add_metric([phase], count)
            yield pods


def pods_by_phase(pods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many pods are in each phase; every phase in :data:`PHASES` is present, a pod without one is Pending."""
    tally = Tally(str((pod.get("status") or {}).get("phase") or "Pending") for pod in pods)
    return {phase: tally.get(phase, 0) for phase in PHASES} | dict(tally)


class QueueMetrics:
    """One queue's label children, resolved once so the worker loop only observes."""

    def __init__(self, metrics: Metrics, queue: str) -> None:
        self._wait = metrics.queue_wait.labels(queue)
        self._results = {result: metrics.reconcile.labels(queue, result) for result in RESULTS}

    def waited(self, seconds: float) -> None:
        self._wait.observe(seconds)

    def reconciled(self, result: str, seconds: float) -> None:
        self._results[result].observe(seconds)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_wait = Histogram(
            "vk_workqueue_wait_seconds", "Time a key waited in a work queue.", ["queue"], registry=r, buckets=_WAIT
        )
        self.reconcile = Histogram(
            "vk_reconcile_duration_seconds",
            "Duration of one reconcile, by queue and result (done, requeue, retry, terminal).",
            ["queue", "result"],
            registry=r,
            buckets=_FAST,
        )
        self.provider_rpc = Histogram(
            "vk_provider_rpc_duration_seconds",
            "Latency of unary provider calls, by method and gRPC status code.",
            ["method", "code"],
            registry=r,
            buckets=_FAST,
        )
        self.provider_rpc_errors = Counter(
            "vk_provider_rpc_errors",
            "Failed provider calls, by method and gRPC status code.",
            ["method", "code"],
            registry=r,
        )
        self.status_events = Counter(
            "vk_status_stream_events", "Events received on the provider's status stream, by kind.", ["kind"], registry=r
        )
        self.status_reconnects = Counter(
            "vk_status_stream_reconnects", "Times the provider's status stream was opened again.", registry=r
        )
        self.status_lag = Histogram(
            "vk_status_stream_lag_seconds",
            "Time from a provider status record's arrival to the pod status patch it caused.",
            registry=r,
            buckets=_FAST,
        )
        self.lease_renewal = Histogram(
            "vk_lease_renewal_duration_seconds", "Duration of successful Lease renewals.", registry=r, buckets=_FAST
        )
        self.lease_failures = Counter("vk_lease_renewal_failures", "Failed Lease renewals.", registry=r)
        self.kubelet_requests = Histogram(
            "vk_kubelet_api_request_duration_seconds",
            "Kubelet API requests, by method, route pattern and status code (streams: their whole length).",
            ["method", "path", "code"],
            registry=r,
            buckets=_FAST,
        )
        self._live = _LiveState()
        r.register(self._live)

    def queue(self, queue: Queue) -> QueueMetrics:
        """Report ``queue``'s depth and return the recorder for its workers."""
        if queue not in self._live.queues:
            self._live.queues.append(queue)
        return QueueMetrics(self, queue.name)

    def watch_pods(self, pods: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        """Count ``pods()`` by phase at each scrape."""
        self._live.pods = pods

    def provider_call(self, method: str, code: str, seconds: float) -> None:
        self.provider_rpc.labels(method, code).observe(seconds)
        if code != "OK":
            self.provider_rpc_errors.labels(method, code).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Exposition(Protocol):
    """What ``/metrics`` serves: a :class:`Metrics`, or the several nodes' of one process."""

    def exposition(self) -> bytes: ...


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class NodesExposition:
    """The series of several nodes' registries in one exposition, each sample labelled ``node=<name>``.

    ``nodes`` is read at every scrape (a restarted node brings a new registry). With ``labelled`` false and one
    node the exposition is that node's own, unchanged: a single-node process looks as it always did.
    """

    def __init__(self, nodes: Callable[[], Mapping[str, Metrics]], *, labelled: bool) -> None:
        self._nodes = nodes
        self._labelled = labelled

    def exposition(self) -> bytes:
        nodes = self._nodes()
        if not self._labelled and len(nodes) == 1:
            return next(iter(nodes.values())).exposition()
        families: dict[str, Metric] = {}
        for node, metrics in sorted(nodes.items()):
            for family in metrics.registry.collect():
                merged = families.get(family.name)
                if merged is None:
                    merged = families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                merged.samples.extend(
                    sample._replace(labels={"node": node, **sample.labels}) for sample in family.samples
                )
        return generate_latest(_Families(families.values()))


def metrics_app(metrics: Exposition) -> web.Application:
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    return app


async def serve_metrics(metrics: Exposition, host: str, port: int) -> None:
    """Serve ``/metrics`` until cancelled; fails at once if the port cannot be bound."""
    runner = web.AppRunner(metrics_app(metrics), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("metrics on http://%s:%d/metrics", host, port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

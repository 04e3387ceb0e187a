"""Observability of the running product: the controller's Prometheus series move with the work it does, and one
trace runs from the controller's reconcile through its provider call into the provider's server span."""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from integration.stack_fixtures import Stack, running_stack, wait_for
from vk_harness import ControlPlane

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(stack: Stack) -> Series:
    with urllib.request.urlopen(stack.controller.metrics_url, timeout=5) as response:  # noqa: S310 - loopback
        body = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in series.items() if n == name and wanted <= got)


def test_metrics_follow_a_burst_of_pods(stack: Stack) -> None:
    names = [f"burst-{i}" for i in range(30)]
    for name in names:
        stack.create_pod(name)
    during = scrape(stack)  # answers while the controller is busy
    assert ("vk_workqueue_depth", frozenset({("queue", "pod-sync")})) in during

    def all_running() -> Series | None:
        series = scrape(stack)
        return series if value(series, "vk_pods", phase="Running") == len(names) else None

    series = wait_for("30 pods Running in vk_pods", all_running, timeout=90, interval=0.5)
    anyone = ssl.create_default_context()
    anyone.check_hostname = False
    anyone.verify_mode = ssl.CERT_NONE
    with pytest.raises(urllib.error.HTTPError) as refused:  # no credentials: 401, still counted
        urllib.request.urlopen(f"{stack.controller.kubelet_url}/healthz", context=anyone, timeout=5)  # noqa: S310
    assert refused.value.code == 401
    series = scrape(stack)

    assert value(series, "vk_pods", phase="Pending") == 0
    assert value(series, "vk_provider_rpc_duration_seconds_count", method="CreatePod", code="OK") == len(names)
    assert value(series, "vk_provider_rpc_errors_total", method="CreatePod") == 0
    assert value(series, "vk_provider_rpc_duration_seconds_count", method="Handshake", code="OK") >= 1
    for queue in ("pod-sync", "pod-status"):
        assert value(series, "vk_workqueue_wait_seconds_count", queue=queue) >= len(names)
        assert value(series, "vk_reconcile_duration_seconds_count", queue=queue) >= len(names)
        assert value(series, "vk_workqueue_depth", queue=queue) >= 0
    created = value(series, "vk_reconcile_duration_seconds_count", queue="pod-sync", result="done")
    created += value(series, "vk_reconcile_duration_seconds_count", queue="pod-sync", result="requeue")
    assert created >= len(names)  # requeue: a token refresh is due later
    assert value(series, "vk_status_stream_events_total", kind="pod") >= len(names)
    assert value(series, "vk_status_stream_events_total", kind="synced") >= 1
    assert value(series, "vk_status_stream_lag_seconds_count") > 0
    assert value(series, "vk_lease_renewal_duration_seconds_count") > 0
    assert value(series, "vk_lease_renewal_failures_total") == 0
    requests = value(series, "vk_kubelet_api_request_duration_seconds_count", path="/healthz", code="401")
    assert requests >= 1
    assert value(series, "vk_reconcile_duration_seconds_count") > value(during, "vk_reconcile_duration_seconds_count")


# -- tracing ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, str]


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()

    def Export(  # noqa: N802 - gRPC method name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        Span(
                            service=resource.get("service.name", ""),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={a.key: a.value.string_value for a in span.attributes},
                        )
                    )
        with self._lock:
            self.spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()

    def snapshot(self) -> list[Span]:
        with self._lock:
            return list(self.spans)


@pytest.fixture
def collector() -> Iterator[tuple[Collector, int]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(0)


def test_one_trace_runs_from_the_reconcile_into_the_provider(
    control_plane: ControlPlane,
    tmp_path: Path,
    namespace: str,
    node_name: str,
    collector: tuple[Collector, int],
) -> None:
    spans, port = collector
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with running_stack(control_plane, tmp_path, namespace, node_name, env=env) as stack:
        stack.create_pod("traced")
        stack.wait_phase("traced", "Running")

        def exported() -> tuple[Span, Span] | None:
            by_id = {s.span_id: s for s in spans.snapshot()}
            served = next((s for s in by_id.values() if s.name == "ProviderService/CreatePod"), None)
            client = by_id.get(served.parent_span_id) if served is not None else None
            return (served, client) if served is not None and client is not None else None

        served, client = wait_for(
            "the provider's CreatePod span and its parent",
            exported,
            timeout=30,
            describe=lambda: str(sorted({(s.service, s.name) for s in spans.snapshot()})),
        )
        by_id = {s.span_id: s for s in spans.snapshot()}

    assert served.service == "vk-provider-mock"
    assert (client.service, client.name, client.trace_id) == ("vk-controller", "provider CreatePod", served.trace_id)
    reconcile = by_id.get(client.parent_span_id)
    assert reconcile is not None
    assert reconcile.service == "vk-controller"
    assert reconcile.name == "reconcile pod-sync"
    assert reconcile.attributes["vk.key"] == f"{namespace}/traced"
    assert reconcile.trace_id == served.trace_id

"""Metric and label helpers, the switch that keeps tracing off by default, and the fields of JSON log lines."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from vk_controller import logs
from vk_controller.kubeletapi.middleware import route_pattern
from vk_controller.metrics import RESULTS, Metrics, pods_by_phase
from vk_controller.workqueue import Requeue, TerminalError, WorkQueue, run_workers
from vk_provider_sdk import tracing


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return found or 0.0


def test_pods_are_counted_by_phase_with_every_phase_present() -> None:
    pods: list[dict[str, Any]] = [
        {"status": {"phase": "Running"}},
        {"status": {"phase": "Running"}},
        {"status": {}},
        {"metadata": {}},
    ]

    assert pods_by_phase(pods) == {"Pending": 2, "Running": 2, "Succeeded": 0, "Failed": 0, "Unknown": 0}


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.provider_call("CreatePod", "OK", 0.01)
    first.provider_call("CreatePod", "UNAVAILABLE", 0.02)

    assert sample(first, "vk_provider_rpc_duration_seconds_count", method="CreatePod", code="OK") == 1
    assert sample(first, "vk_provider_rpc_errors_total", method="CreatePod", code="UNAVAILABLE") == 1
    assert sample(first, "vk_provider_rpc_errors_total", method="CreatePod", code="OK") == 0
    assert sample(second, "vk_provider_rpc_duration_seconds_count", method="CreatePod", code="OK") == 0


def test_queue_depth_and_pods_by_phase_are_read_when_scraped() -> None:
    metrics = Metrics()
    queue: WorkQueue[str] = WorkQueue(name="pod-sync")
    pods: list[dict[str, object]] = []
    metrics.queue(queue)
    metrics.watch_pods(lambda: pods)
    queue.add("a")
    queue.add("b")
    pods.append({"status": {"phase": "Running"}})

    assert sample(metrics, "vk_workqueue_depth", queue="pod-sync") == 2
    assert sample(metrics, "vk_pods", phase="Running") == 1
    assert sample(metrics, "vk_pods", phase="Failed") == 0
    assert b'vk_pods{phase="Running"} 1.0' in metrics.exposition()


async def test_reconciles_are_timed_by_result() -> None:
    metrics = Metrics()
    queue: WorkQueue[str] = WorkQueue(name="q", base_delay=60)
    seen: list[str | None] = []

    async def handle(key: str) -> Requeue | None:
        seen.append(logs.work_key.get())
        if key == "terminal":
            raise TerminalError("no")
        if key == "retry":
            raise RuntimeError("again")
        return Requeue(60) if key == "requeue" else None

    for key in ("done", "requeue", "retry", "terminal"):
        queue.add(key)
    workers = asyncio.create_task(run_workers(queue, handle, workers=2, metrics=metrics))
    while sum(sample(metrics, "vk_reconcile_duration_seconds_count", queue="q", result=r) for r in RESULTS) < 4:
        await asyncio.sleep(0.01)
    queue.shut_down()
    await workers

    for result in RESULTS:
        assert sample(metrics, "vk_reconcile_duration_seconds_count", queue="q", result=result) == 1
    assert sample(metrics, "vk_workqueue_wait_seconds_count", queue="q") == 4
    assert sorted(s or "" for s in seen) == ["done", "requeue", "retry", "terminal"]
    assert logs.work_key.get() is None


def test_kubelet_requests_are_labelled_by_route_pattern_not_path() -> None:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", handler)
    request = make_mocked_request("GET", "/containerLogs/ns/p/c", app=app)
    match = asyncio.run(app.router.resolve(request))
    request._match_info = match  # what aiohttp does before the middlewares

    assert route_pattern(request) == "/containerLogs/{namespace}/{pod}/{container}"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x:4317"}, "otlp"),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_tracing_is_off_unless_the_environment_asks(environ: dict[str, str], expected: str | None) -> None:
    assert tracing.exporter_from_env(environ) == expected


def test_tracing_off_is_a_shared_no_op() -> None:
    assert not tracing.enabled()
    assert tracing.span("a") is tracing.span("b")
    assert tracing.grpc_metadata() is None
    assert tracing.current_trace_id() is None


def test_json_log_lines_carry_the_key_being_reconciled() -> None:
    formatter = logs._JsonFormatter()
    record = logging.LogRecord("vk", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    token = logs.work_key.set("ns/pod-1")
    try:
        entry = json.loads(formatter.format(record))
    finally:
        logs.work_key.reset(token)

    assert entry["pod"] == "ns/pod-1"
    assert entry["message"] == "hello world"
    assert "trace_id" not in entry
    assert "pod" not in json.loads(formatter.format(record))

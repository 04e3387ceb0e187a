"""Resource usage: a running pod is reported, and what is missing is absent, not zero (stats.proto)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from virtualkubelet.provider.v1 import capabilities_pb2, provider_pb2_grpc, stats_pb2
from vk_conformance.connection import Settings
from vk_conformance.expect import answer, fail, require, shown
from vk_conformance.plugin import RunningPod
from vk_conformance.pods import CONTAINER, MEMORY_BYTES, wait_running
from vk_conformance.watch import PodWatch

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: Stats have no stream: the kit asks again at this interval, within --timeout.
POLL_SECONDS = 1.0


def _container(stats: stats_pb2.PodStats) -> stats_pb2.ContainerStats | None:
    return next((container for container in stats.containers if container.name == CONTAINER), None)


def _has_usage(stats: stats_pb2.PodStats) -> bool:
    groups = [(stats.cpu, stats.memory)]
    container = _container(stats)
    if container is not None:
        groups.append((container.cpu, container.memory))
    return any(
        cpu.HasField("usage_core_nano_seconds")
        or cpu.HasField("usage_nano_cores")
        or memory.HasField("working_set_bytes")
        or memory.HasField("usage_bytes")
        for cpu, memory in groups
    )


def _has_metrics(stats: stats_pb2.PodStats) -> bool:
    container = _container(stats)
    return (
        container is not None
        and container.cpu.HasField("usage_core_nano_seconds")
        and container.memory.HasField("working_set_bytes")
    )


async def _pod_stats(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    uid: str,
    goal: str,
    ready: Callable[[stats_pb2.PodStats], bool],
) -> stats_pb2.PodStats:
    deadline = time.monotonic() + settings.timeout
    last: stats_pb2.PodStats | None = None
    while True:
        summary = await answer(
            "GetStatsSummary", stub.GetStatsSummary(stats_pb2.GetStatsSummaryRequest(), timeout=settings.unary_deadline)
        )
        last = next((pod for pod in summary.pods if pod.pod.uid == uid), last)
        if last is not None and ready(last):
            return last
        if time.monotonic() >= deadline:
            seen = shown(last) if last is not None else "no entry for the pod"
            fail(f"expected {goal} within {settings.timeout:g}s; last seen: {seen}")
        await asyncio.sleep(POLL_SECONDS)


async def test_stats_report_a_running_pod(
    running_pod: RunningPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "stats.supported")
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)
    if capabilities.metrics.supported:
        goal = (
            f"GetStatsSummary to report container {CONTAINER!r} of the running {kit_pod} with "
            "cpu.usage_core_nano_seconds and memory.working_set_bytes (metrics.supported is declared)"
        )
        await _pod_stats(stub, settings, kit_pod.uid, goal, _has_metrics)
    else:
        goal = f"GetStatsSummary to report CPU or memory usage of the running {kit_pod}"
        await _pod_stats(stub, settings, kit_pod.uid, goal, _has_usage)


async def test_stats_leave_missing_values_unset_rather_than_zero(
    running_pod: RunningPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "stats.supported")
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)
    goal = f"GetStatsSummary to report usage of the running {kit_pod}"
    first = await _pod_stats(stub, settings, kit_pod.uid, goal, _has_usage)
    scopes = [("pod", first.cpu, first.memory)]
    container = _container(first)
    if container is not None:
        scopes.append((f"container {CONTAINER!r}", container.cpu, container.memory))
    for scope, _cpu, memory in scopes:
        for name in ("working_set_bytes", "usage_bytes", "rss_bytes"):
            if memory.HasField(name) and getattr(memory, name) == 0:
                fail(
                    f"expected {scope} memory.{name} of a running shell to be a measured number or unset; got 0 "
                    "(a placeholder: missing values must be left unset)"
                )
        if memory.HasField("available_bytes") and memory.available_bytes > MEMORY_BYTES:
            fail(
                f"expected {scope} memory.available_bytes to be at most the 128Mi limit minus the working set; "
                f"got {memory.available_bytes}"
            )
    await asyncio.sleep(POLL_SECONDS)
    second = await _pod_stats(stub, settings, kit_pod.uid, goal, _has_usage)
    pairs = [("pod", first.cpu, second.cpu)]
    second_container = _container(second)
    if container is not None and second_container is not None:
        pairs.append((f"container {CONTAINER!r}", container.cpu, second_container.cpu))
    for scope, before, after in pairs:
        both = before.HasField("usage_core_nano_seconds") and after.HasField("usage_core_nano_seconds")
        if both and after.usage_core_nano_seconds < before.usage_core_nano_seconds:
            fail(
                f"expected {scope} cpu.usage_core_nano_seconds to be cumulative (never decreasing); "
                f"got {before.usage_core_nano_seconds}, then {after.usage_core_nano_seconds}"
            )

"""GetStatsSummary for the mock: per running container, pod and the node, from ``usage.py``.

Only running containers have numbers; a pod without any running container is left out (missing, not zero). Pod
and node values are real sums of what is reported below them; the cumulative CPU counters include instances that
already ended (and, for the node, pods already gone), so they never decrease.
"""

from __future__ import annotations

from collections.abc import Iterable

from virtualkubelet.provider.v1 import stats_pb2
from vk_provider_mock import usage
from vk_provider_mock.runtime import MockPod, timestamp


def summary(
    pods: Iterable[MockPod], *, now: float, node_started_at: float, cpu_ns_removed: int
) -> stats_pb2.GetStatsSummaryResponse:
    sampled = timestamp(now)
    response = stats_pb2.GetStatsSummaryResponse()
    node_rate = node_memory = 0
    node_cpu_ns = cpu_ns_removed
    for pod in pods:
        node_cpu_ns += pod.cpu_ns(now)
        stats = _pod_stats(pod, now)
        if stats is None:
            continue
        stats.cpu.time.CopyFrom(sampled)
        stats.memory.time.CopyFrom(sampled)
        node_rate += stats.cpu.usage_nano_cores
        node_memory += stats.memory.working_set_bytes
        response.pods.append(stats)
    node = response.node
    node.start_time.CopyFrom(timestamp(node_started_at))
    node.cpu.CopyFrom(stats_pb2.CPUStats(time=sampled, usage_nano_cores=node_rate, usage_core_nano_seconds=node_cpu_ns))
    node.memory.CopyFrom(stats_pb2.MemoryStats(time=sampled, usage_bytes=node_memory, working_set_bytes=node_memory))
    return response


def _pod_stats(pod: MockPod, now: float) -> stats_pb2.PodStats | None:
    sampled = timestamp(now)
    stats = stats_pb2.PodStats(pod=pod.ref, start_time=timestamp(pod.created_at))
    rate = memory = 0
    for container in (*pod.spec.init_containers, *pod.spec.containers):
        run = pod.runs[container.name]
        instance = run.current
        if instance is None or not instance.running:
            continue
        container_rate = usage.cpu_nano_cores(container)
        working_set = usage.memory_working_set(container)
        limit = usage.memory_limit(container)
        memory_stats = stats_pb2.MemoryStats(
            time=sampled, usage_bytes=working_set, working_set_bytes=working_set, rss_bytes=working_set
        )
        if limit is not None:
            memory_stats.available_bytes = max(limit - working_set, 0)
        stats.containers.append(
            stats_pb2.ContainerStats(
                name=container.name,
                start_time=timestamp(instance.started_at),
                cpu=stats_pb2.CPUStats(
                    time=sampled,
                    usage_nano_cores=container_rate,
                    usage_core_nano_seconds=usage.cpu_core_nanoseconds(container, now - instance.started_at),
                ),
                memory=memory_stats,
            )
        )
        rate += container_rate
        memory += working_set
    if not stats.containers:
        return None
    stats.cpu.usage_nano_cores = rate
    stats.cpu.usage_core_nano_seconds = pod.cpu_ns(now)
    stats.memory.working_set_bytes = memory
    stats.memory.usage_bytes = memory
    return stats


__all__ = ["summary"]

"""CPU rates (``usageNanoCores``) from two successive cumulative counters, for providers that report only the
counter: the one derivation the protocol allows (a real rate from real numbers, never a guess).

A rate needs an earlier sample of the same thing (the node, a pod by UID, a container instance by pod UID, name and
start time) with an earlier time and a counter no larger; otherwise the rate stays unknown. Samples of things that
are gone are forgotten at the next report.
"""

from __future__ import annotations

import dataclasses

from vk_controller.provider.stats import Cpu, NodeUsage, PodUsage, StatsSummary

Key = tuple[str, ...]
Sample = tuple[int, int]  # (time_ns, usage_core_nano_seconds)


class CpuRates:
    def __init__(self) -> None:
        #: Per key, the latest sample and the one before it (distinct times, oldest first), so that a provider that
        #: answers twice from the same sample still gives a rate.
        self._samples: dict[Key, tuple[Sample, ...]] = {}

    def _rate(self, key: Key, cpu: Cpu | None, seen: dict[Key, tuple[Sample, ...]]) -> Cpu | None:
        if cpu is None or cpu.usage_core_nano_seconds is None:
            return cpu
        sample = (cpu.time_ns, cpu.usage_core_nano_seconds)
        earlier = [old for old in self._samples.get(key, ()) if old[0] < sample[0]]
        seen[key] = (earlier[-1], sample) if earlier else (sample,)
        if cpu.usage_nano_cores is not None or not earlier:
            return cpu
        before = earlier[-1]
        elapsed, used = sample[0] - before[0], sample[1] - before[1]
        if elapsed <= 0 or used < 0:
            return cpu
        return dataclasses.replace(cpu, usage_nano_cores=used * 1_000_000_000 // elapsed)

    def _pod(self, pod: PodUsage, seen: dict[Key, tuple[Sample, ...]]) -> PodUsage:
        containers = tuple(
            dataclasses.replace(
                container,
                cpu=self._rate(("container", pod.uid, container.name, str(container.start_ns)), container.cpu, seen),
            )
            for container in pod.containers
        )
        return dataclasses.replace(pod, containers=containers, cpu=self._rate(("pod", pod.uid), pod.cpu, seen))

    def fill(self, summary: StatsSummary) -> StatsSummary:
        """``summary`` with the rates that two samples make known; remembers this report's counters."""
        seen: dict[Key, tuple[Sample, ...]] = {}
        node: NodeUsage | None = summary.node
        if node is not None:
            node = dataclasses.replace(node, cpu=self._rate(("node",), node.cpu, seen))
        pods = tuple(self._pod(pod, seen) for pod in summary.pods)
        self._samples = seen
        return StatsSummary(node=node, pods=pods)

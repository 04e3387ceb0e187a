"""Scale benchmark: N pods Running on one node; the kubelet's resident memory, and its CPU over idle seconds.

For each side: the resident set size once the node is Ready with no pods (the fixed overhead), then N pods are
created and run, then, after a settling pause, the CPU time the kubelet process uses over ``--idle`` seconds in
which nothing changes, and its resident set size at the end. The thin kubelet is measured the same way as a
reference; the targets are absolute (the performance issue): at most 15 KB per pod above a fixed overhead of at
most 80 MB, and idle CPU under 2% of one core (no per-pod polling, no full relists in steady state).

    uv run python bench/scale.py --pods 10000 [--idle 60] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import workload

from vk_harness import ControlPlane

MB = 1024 * 1024


@dataclass(frozen=True)
class Footprint:
    label: str
    pods: int
    fixed_bytes: int
    loaded_bytes: int
    idle_cpu_fraction: float

    @property
    def per_pod_bytes(self) -> float:
        return (self.loaded_bytes - self.fixed_bytes) / self.pods

    def describe(self) -> str:
        return (
            f"{self.label}: fixed {self.fixed_bytes / MB:.1f} MB, "
            f"with {self.pods} pods {self.loaded_bytes / MB:.1f} MB "
            f"({self.per_pod_bytes / 1024:.1f} KB/pod), idle CPU {self.idle_cpu_fraction:.2%} of one core"
        )


async def _run(kubelet: workload.Kubelet, plane: ControlPlane, count: int, *, settle: float, idle: float) -> Footprint:
    pid = kubelet.main.pid
    fixed = workload.rss_bytes(pid)
    names = [f"s-{index}" for index in range(count)]
    async with workload.admin_session(plane) as session, workload.watching(session, kubelet.namespace) as times:
        await workload.create_all(session, kubelet.namespace, kubelet.node, names)
        await times.wait(lambda t: len(t.running) >= count)
    await asyncio.sleep(settle)
    before = workload.cpu_seconds(pid)
    await asyncio.sleep(idle)
    cpu = (workload.cpu_seconds(pid) - before) / idle
    return Footprint(kubelet.label, count, fixed, workload.rss_bytes(pid), cpu)


def _section(base: Footprint, ours: Footprint, idle: float) -> str:
    fixed_ok = ours.fixed_bytes <= 80 * MB
    per_pod_ok = ours.per_pod_bytes <= 15 * 1024
    cpu_ok = ours.idle_cpu_fraction < 0.02

    def row(footprint: Footprint) -> str:
        return (
            f"| {footprint.label} | {footprint.fixed_bytes / MB:.1f} MB | {footprint.loaded_bytes / MB:.1f} MB "
            f"| {footprint.per_pod_bytes / 1024:.1f} KB | {footprint.idle_cpu_fraction:.2%} |"
        )

    verdicts = ", ".join(
        f"{what} {'meets' if ok else 'misses'} its target"
        for what, ok in (("fixed overhead", fixed_ok), ("memory per pod", per_pod_ok), ("idle CPU", cpu_ok))
    )
    return f"""
## Scale: {ours.pods} pods Running; memory and idle CPU

Command: `uv run python bench/scale.py --pods {ours.pods} --idle {idle:g} --write`
(machine: {workload.machine()}; measured {time.strftime("%Y-%m-%d")}). Resident memory of the kubelet process
(not its provider) with the node Ready and no pods, then with every pod Running; CPU over {idle:g} idle seconds.
Targets: fixed overhead at most 80 MB, at most 15 KB per pod, idle CPU under 2% of one core.

| kubelet | fixed | with pods | per pod | idle CPU |
| --- | --- | --- | --- | --- |
{row(base)}
{row(ours)}

vk-controller: {verdicts}.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU measured")
    parser.add_argument("--settle", type=float, default=10.0, help="pause after the last pod runs, before measuring")
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-scale-"))
    with ControlPlane(workdir) as plane:
        with workload.baseline(plane, workdir, "scale-base") as thin:
            base = asyncio.run(_run(thin, plane, args.pods, settle=args.settle, idle=args.idle))
        print(base.describe(), flush=True)
        with workload.controller(plane, workdir, "scale-vk") as vk:
            ours = asyncio.run(_run(vk, plane, args.pods, settle=args.settle, idle=args.idle))
        print(ours.describe(), flush=True)
    if args.write:
        workload.write_section("scale", _section(base, ours, args.idle))
    return 0


if __name__ == "__main__":
    sys.exit(main())

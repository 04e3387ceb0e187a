"""CPU per pod: what each kubelet process spends, in CPU time, to bring one pod to Running in a burst.

On a machine whose cores the API server shares, the burst ratio is made of this: every client CPU-millisecond is
taken from the API server. Each side runs a burst of N pods (as in ``burst.py``); the CPU time of each of its
processes (from /proc, user + system) over the burst is divided by N. The baseline is the thin kubelet.

    uv run python bench/cpu_per_pod.py [--pods 1000] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import workload

from vk_harness import ControlPlane

Measured = tuple[float, list[tuple[str, float]]]  # pods per second; (process, CPU ms per pod) each


def _measure(kubelet: workload.Kubelet, plane: ControlPlane, count: int) -> Measured:
    before = [workload.cpu_seconds(process.pid) for process in kubelet.processes]
    seconds = asyncio.run(workload.timed_burst(plane, kubelet, count, prefix="c"))
    spent = [workload.cpu_seconds(process.pid) - used for process, used in zip(kubelet.processes, before, strict=True)]
    return count / seconds, [
        (process.name, cpu / count * 1000) for process, cpu in zip(kubelet.processes, spent, strict=True)
    ]


def _section(
    count: int, base: tuple[float, list[tuple[str, float]]], ours: tuple[float, list[tuple[str, float]]]
) -> str:
    rows = "\n".join(
        f"| {label} | {name} | {ms:.2f} ms |"
        for label, (_, processes) in (("baseline", base), ("vk-controller", ours))
        for name, ms in processes
    )
    base_total = sum(ms for _, ms in base[1])
    ours_total = sum(ms for _, ms in ours[1])
    return f"""
## CPU per pod in a burst of {count}

Command: `uv run python bench/cpu_per_pod.py --pods {count} --write`
(machine: {workload.machine()}; measured {time.strftime("%Y-%m-%d")}). CPU time (user + system, from /proc) each
process of the kubelet spent during the burst, divided by the pods.

| side | process | CPU per pod |
| --- | --- | --- |
{rows}

**vk-controller + provider: {ours_total:.2f} ms per pod, {ours_total / base_total:.1f}x the thin kubelet's
{base_total:.2f} ms** (throughput in this run: baseline {base[0]:.0f} pods/s, vk-controller {ours[0]:.0f} pods/s).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-cpu-"))
    with ControlPlane(workdir) as plane:
        with workload.baseline(plane, workdir, "cpu-base") as thin:
            base = _measure(thin, plane, args.pods)
        with workload.controller(plane, workdir, "cpu-vk") as vk:
            ours = _measure(vk, plane, args.pods)
    for label, (rate, processes) in (("baseline", base), ("vk-controller", ours)):
        spent = ", ".join(f"{name} {ms:.2f} ms/pod" for name, ms in processes)
        print(f"{label}: {rate:.0f} pods/s; {spent}")
    if args.write:
        workload.write_section("cpu-per-pod", _section(args.pods, base, ours))
    return 0


if __name__ == "__main__":
    sys.exit(main())

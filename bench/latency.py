"""Latency benchmark: pods created at a steady rate; create → Running latency p50, p90, p99.

The creator sends one pod every 1/rate seconds (100/s for 60 s by default) without waiting for earlier ones; each
pod's latency runs from just before its create request to the moment an admin watch sees it Running. The baseline
(the thin kubelet) and vk-controller + vk-provider-mock run one after the other on the same control plane; each
round measures both.

    uv run python bench/latency.py [--rate 100] [--seconds 60] [--rounds 1] [--write]

Targets (the performance issue): p50 within 2x the baseline's plus 10 ms, p99 within 3x plus 50 ms.
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


@dataclass(frozen=True)
class Latencies:
    label: str
    seconds: list[float]

    def at(self, fraction: float) -> float:
        return workload.percentile(self.seconds, fraction)

    def row(self) -> str:
        return " | ".join(f"{self.at(q) * 1000:.1f} ms" for q in (0.5, 0.9, 0.99))


async def _steady(kubelet: workload.Kubelet, plane: ControlPlane, *, rate: float, seconds: float) -> Latencies:
    count = int(rate * seconds)
    sent: dict[str, float] = {}
    async with workload.admin_session(plane) as session, workload.watching(session, kubelet.namespace) as times:
        creates: list[asyncio.Task[None]] = []
        start = time.monotonic()
        for index in range(count):
            await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            name = f"l-{index}"
            sent[name] = time.monotonic()
            creates.append(
                asyncio.create_task(
                    workload.create_pod(session, kubelet.namespace, workload.pod_manifest(name, kubelet.node))
                )
            )
        await asyncio.gather(*creates)
        await times.wait(lambda t: len(t.running) >= count)
        return Latencies(kubelet.label, [times.running[name] - sent[name] for name in sent])


def _check(base: Latencies, ours: Latencies) -> tuple[bool, bool]:
    p50 = ours.at(0.5) <= 2 * base.at(0.5) + 0.010
    p99 = ours.at(0.99) <= 3 * base.at(0.99) + 0.050
    return p50, p99


def _section(rounds: list[tuple[Latencies, Latencies]], rate: float, seconds: float) -> str:
    rows = []
    for index, (base, ours) in enumerate(rounds):
        p50, p99 = _check(base, ours)
        verdict = f"p50 {'meets' if p50 else 'misses'}, p99 {'meets' if p99 else 'misses'} the target"
        rows.append(f"| {index + 1} | baseline | {base.row()} | |")
        rows.append(f"| {index + 1} | vk-controller | {ours.row()} | {verdict} |")
    table = "\n".join(rows)
    return f"""
## Latency: {rate:g} pods/s for {seconds:g} s, create to Running

Command: `uv run python bench/latency.py --rate {rate:g} --seconds {seconds:g} --rounds {len(rounds)} --write`
(machine: {workload.machine()}; measured {time.strftime("%Y-%m-%d")}). One pod every {1000 / rate:g} ms, never
waiting for earlier ones; latency from just before the create request to an admin watch seeing the pod Running.
Target: p50 within 2x the baseline's + 10 ms, p99 within 3x + 50 ms.

| round | kubelet | p50 | p90 | p99 | |
| --- | --- | --- | --- | --- | --- |
{table}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="pods created per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the creator runs")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-latency-"))
    rounds: list[tuple[Latencies, Latencies]] = []
    with ControlPlane(workdir) as plane:
        for round_ in range(args.rounds):
            with workload.baseline(plane, workdir, f"lat-base-{round_}") as thin:
                base = asyncio.run(_steady(thin, plane, rate=args.rate, seconds=args.seconds))
            with workload.controller(plane, workdir, f"lat-vk-{round_}") as vk:
                ours = asyncio.run(_steady(vk, plane, rate=args.rate, seconds=args.seconds))
            rounds.append((base, ours))
            print(f"round {round_ + 1}: baseline p50/p90/p99 {base.row()}; vk-controller {ours.row()}", flush=True)
    if args.write:
        workload.write_section("latency", _section(rounds, args.rate, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Delete-burst benchmark: N Running pods deleted at once; throughput from the first delete to the last object gone.

Each side first runs N pods (not timed), then the same deleter sends N default deletes (as `kubectl delete` does,
32 at a time) and an admin watch waits for every DELETED event. The kubelet under test finishes each deletion:
the thin kubelet with grace 0 at once; vk-controller after the provider confirms the pod is stopped.

    uv run python bench/delete_burst.py --pods 5000 [--rounds 1] [--write]

Target (the performance issue): at least 80% of the baseline's throughput.
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


async def _delete_burst(kubelet: workload.Kubelet, plane: ControlPlane, count: int) -> float:
    names = [f"d-{index}" for index in range(count)]
    async with workload.admin_session(plane) as session, workload.watching(session, kubelet.namespace) as times:
        await workload.create_all(session, kubelet.namespace, kubelet.node, names)
        await times.wait(lambda t: len(t.running) >= count)
        gate = asyncio.Semaphore(32)

        async def delete(name: str) -> None:
            async with gate:
                await workload.delete_pod(session, kubelet.namespace, name)

        start = time.monotonic()
        await asyncio.gather(*(delete(name) for name in names))
        await times.wait(lambda t: len(t.gone) >= count)
        return time.monotonic() - start


def _section(rounds: list[tuple[float, float]], count: int) -> str:
    rows = "\n".join(
        f"| {index + 1} | {base:.2f} s ({count / base:.0f}/s) | {ours:.2f} s ({count / ours:.0f}/s) "
        f"| {base / ours:.0%} |"
        for index, (base, ours) in enumerate(rounds)
    )
    ratio = workload.median([base / ours for base, ours in rounds])
    return f"""
## Delete burst: {count} Running pods deleted at once, first delete to last object gone

Command: `uv run python bench/delete_burst.py --pods {count} --rounds {len(rounds)} --write`
(machine: {workload.machine()}; measured {time.strftime("%Y-%m-%d")}). Default deletes, 32 at a time; each kubelet
finishes them (the baseline with grace 0 at once, vk-controller after the provider confirms).

| round | baseline | vk-controller | ratio |
| --- | --- | --- | --- |
{rows}

**Median ratio to baseline: {ratio:.0%}** (target: at least 80%).
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-delete-"))
    rounds: list[tuple[float, float]] = []
    with ControlPlane(workdir) as plane:
        for round_ in range(args.rounds):
            with workload.baseline(plane, workdir, f"del-base-{round_}") as thin:
                base = asyncio.run(_delete_burst(thin, plane, args.pods))
            with workload.controller(plane, workdir, f"del-vk-{round_}") as vk:
                ours = asyncio.run(_delete_burst(vk, plane, args.pods))
            rounds.append((base, ours))
            print(
                f"round {round_ + 1}: baseline {args.pods / base:.0f} deletes/s, "
                f"vk-controller {args.pods / ours:.0f} deletes/s, ratio {base / ours:.0%}",
                flush=True,
            )
    ratio = workload.median([base / ours for base, ours in rounds])
    print(f"median ratio: {ratio:.0%} (logs in {workdir})")
    if args.write:
        workload.write_section("delete-burst", _section(rounds, args.pods))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Burst benchmark: N pods bound to the node at once, measured from the first create to the last Running.

Both sides run against one fresh control plane in the same run: first the baseline (``thin_kubelet.py``, the
thinnest possible kubelet), then vk-controller with vk-provider-mock, each on a node of its own and a namespace of
its own, each as a separate process with a node identity. The same creator (32 concurrent creates) and the same
observer (an admin watch) measure both. The figure is the ratio of the two throughputs.

The pods set ``automountServiceAccountToken: false`` so both sides do the same API work per pod; with a token,
the controller also makes one TokenRequest per pod, which the baseline would not.

    uv run python bench/burst.py --pods 1000 [--rounds 3] [--write]

``--write`` records the result in BENCHMARKS.md.

``--tracing-cost`` compares instead vk-controller with tracing off (as shipped, no ``OTEL_*`` variables) against a
build of it without tracing code paths (``bench/untraced/sitecustomize.py`` strips the call sites at import, in the
controller and in the mock provider), alternating which goes first in each round; the figure is the median ratio
of their throughputs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import workload

from vk_harness import ControlPlane
from vk_provider_sdk import tracing

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Result:
    name: str
    pods: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.pods / self.seconds


#: Where ``sitecustomize`` makes processes a build without tracing code paths; what it must have stripped.
UNTRACED = BENCH / "untraced"
UNTRACED_MODULES = {
    "controller": ("vk_controller.workqueue", "vk_controller.provider.client", "vk_controller.kubeletapi.middleware"),
    "provider": ("vk_provider_sdk.server",),
}


def _baseline(plane: ControlPlane, workdir: Path, count: int, round_: int) -> Result:
    with workload.baseline(plane, workdir, f"bench-baseline-{round_}") as thin:
        return Result("baseline (thin kubelet)", count, asyncio.run(workload.timed_burst(plane, thin, count)))


def _controller(
    plane: ControlPlane, workdir: Path, count: int, round_: int, log_level: str, *, untraced: bool = False
) -> Result:
    node = f"bench-vk-{'untraced-' if untraced else ''}{round_}"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, (str(UNTRACED), os.environ.get("PYTHONPATH"))))}
    with workload.controller(plane, workdir, node, log_level=log_level, env=env if untraced else None) as vk:
        if untraced:  # a build that still traces would make the comparison meaningless
            controller, provider = vk.processes
            for process, modules in (
                (controller, UNTRACED_MODULES["controller"]),
                (provider, UNTRACED_MODULES["provider"]),
            ):
                log = process.log_path.read_text(errors="replace")
                missing = [module for module in modules if f"untraced: {module}:" not in log]
                if missing:
                    raise RuntimeError(f"{process.name}: tracing call sites not stripped from {missing}")
        label = "untraced build" if untraced else "vk-controller + vk-provider-mock"
        return Result(label, count, asyncio.run(workload.timed_burst(plane, vk, count)))


def _write(rounds: list[tuple[Result, Result]], ratio: float, count: int) -> None:
    marker = "burst" if count == 1000 else f"burst-{count}"  # one section per size; 1,000 was the first
    rows = "\n".join(
        f"| {index + 1} | {base.seconds:.2f} s ({base.per_second:.0f}/s) "
        f"| {ours.seconds:.2f} s ({ours.per_second:.0f}/s) | {ours.per_second / base.per_second:.0%} |"
        for index, (base, ours) in enumerate(rounds)
    )
    section = f"""
## Burst: {count} pods, first create to last Running

Command: `uv run python bench/burst.py --pods {count} --rounds {len(rounds)} --write`
(machine: {workload.machine()}; measured {time.strftime("%Y-%m-%d")}). Each round runs the baseline (a thin kubelet that
patches every pod straight to Running) and then vk-controller + vk-provider-mock on the same control plane, each on
a fresh node and namespace; the figure is the median of the per-round throughput ratios.

| round | baseline | vk-controller | ratio |
| --- | --- | --- | --- |
{rows}

**Median ratio to baseline: {ratio:.0%}** (target of the controller-core issue: at least 50%; the performance issue
raises it to 80%).
"""
    workload.write_section(marker, section)


def _write_tracing_cost(
    rounds: list[tuple[Result, Result]], ratio: float, count: int, load: tuple[float, float]
) -> None:
    rows = "\n".join(
        f"| {index + 1} | {'tracing off' if index % 2 == 0 else 'untraced build'} "
        f"| {off.seconds:.2f} s ({off.per_second:.0f}/s) "
        f"| {bare.seconds:.2f} s ({bare.per_second:.0f}/s) | {off.per_second / bare.per_second:.0%} |"
        for index, (off, bare) in enumerate(rounds)
    )
    ratios = [off.per_second / bare.per_second for off, bare in rounds]
    section = f"""
## Burst with tracing off against a build without tracing code paths: {count} pods

Command: `uv run python bench/burst.py --pods {count} --rounds {len(rounds)} --tracing-cost --write`
(machine: {workload.machine()}; measured {time.strftime("%Y-%m-%d")}). Each round runs vk-controller + vk-provider-mock
twice on the same control plane, each time on a fresh node and namespace, in alternating order: as shipped with
tracing off (no `OTEL_*` variables), and as a build without tracing code paths (`bench/untraced/sitecustomize.py`
compiles both processes with the tracing call sites removed; the run fails if it did not). The figure is the median
of the per-round throughput ratios, tracing off to untraced.
{_load_note(load)}

| round | first | tracing off | untraced build | ratio |
| --- | --- | --- | --- | --- |
{rows}

**Median ratio, tracing off to untraced: {ratio:.0%}** (rounds from {min(ratios):.0%} to {max(ratios):.0%}).
Acceptance 5 of the multi-node issue asks for this to be within noise; between rounds, the burst above varies by
about ±15 points on this machine.
"""
    workload.write_section("burst-tracing", section)


def _load_note(load: tuple[float, float]) -> str:
    cores = os.cpu_count() or 1
    note = f"Load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} at the end, on {cores} cores"
    # The benchmark's own processes (API server, etcd, controllers) are in the end figure; only a high start
    # says that other work shared the machine.
    return note + (": other work shared the machine during the run." if load[0] > cores / 2 else ".")


def _tracing_cost(plane: ControlPlane, workdir: Path, args: argparse.Namespace) -> list[tuple[Result, Result]]:
    """Rounds of (tracing off, untraced build), alternating which runs first."""
    if tracing.exporter_from_env() is not None:
        raise SystemExit("--tracing-cost measures tracing off: unset the OTEL_* variables that turn it on")
    rounds = []
    for round_ in range(args.rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        results = {
            untraced: _controller(plane, workdir, args.pods, round_, args.controller_log_level, untraced=untraced)
            for untraced in order
        }
        off, bare = results[False], results[True]
        rounds.append((off, bare))
        print(
            f"round {round_ + 1}: tracing off {off.per_second:.0f} pods/s, untraced build {bare.per_second:.0f} "
            f"pods/s, ratio {off.per_second / bare.per_second:.0%}",
            flush=True,
        )
    return rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/controller pairs; the median ratio counts")
    parser.add_argument("--controller-log-level", default="warning", help="the controller's --log-level")
    parser.add_argument(
        "--tracing-cost", action="store_true", help="compare tracing off with a build without tracing code paths"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-"))
    rounds: list[tuple[Result, Result]] = []
    if args.tracing_cost:
        started_load = os.getloadavg()[0]
        with ControlPlane(workdir) as plane:
            rounds = _tracing_cost(plane, workdir, args)
        load = (started_load, os.getloadavg()[0])
        ratio = workload.median([off.per_second / bare.per_second for off, bare in rounds])
        print(f"median ratio (tracing off / untraced build): {ratio:.0%} (logs in {workdir})")
        if args.write:
            _write_tracing_cost(rounds, ratio, args.pods, load)
        return 0
    with ControlPlane(workdir) as plane:
        for round_ in range(args.rounds):
            baseline = _baseline(plane, workdir, args.pods, round_)
            ours = _controller(plane, workdir, args.pods, round_, args.controller_log_level)
            rounds.append((baseline, ours))
            print(
                f"round {round_ + 1}: baseline {baseline.per_second:.0f} pods/s, "
                f"vk-controller {ours.per_second:.0f} pods/s, ratio {ours.per_second / baseline.per_second:.0%}",
                flush=True,
            )
    ratio = workload.median([ours.per_second / base.per_second for base, ours in rounds])
    print(f"median ratio: {ratio:.0%} (logs in {workdir})")
    if args.write:
        _write(rounds, ratio, args.pods)
    return 0


if __name__ == "__main__":
    sys.exit(main())

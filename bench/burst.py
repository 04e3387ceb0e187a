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
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from vk_harness import ControlPlane
from vk_harness.processes import Process
from vk_harness.rest import ApiError
from vk_harness.stack import ControllerIntervals, start_controller, start_mock_provider
from vk_provider_sdk import tracing

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Result:
    name: str
    pods: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.pods / self.seconds


def _pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "containers": [{"name": "main", "image": "busybox:1.36", "resources": {"requests": {"cpu": "10m"}}}],
        },
    }


async def _burst(plane: ControlPlane, namespace: str, node: str, count: int) -> float:
    """Create ``count`` pods as fast as 32 concurrent creates go; seconds from the first to the last Running."""
    import ssl

    context = ssl.create_default_context(cafile=str(plane.ca.cert_path))
    context.load_cert_chain(str(plane.admin.credentials.cert_path), str(plane.admin.credentials.key_path))
    running: set[str] = set()
    done = asyncio.Event()
    async with aiohttp.ClientSession(plane.server, connector=aiohttp.TCPConnector(ssl=context, limit=64)) as session:
        listed = await (await session.get(f"/api/v1/namespaces/{namespace}/pods")).json()
        version = listed["metadata"]["resourceVersion"]

        async def observe() -> None:
            params = {"watch": "1", "resourceVersion": version}
            async with session.get(
                f"/api/v1/namespaces/{namespace}/pods", params=params, timeout=aiohttp.ClientTimeout(total=None)
            ) as response:
                async for line in response.content:
                    pod = json.loads(line)["object"]
                    if pod.get("status", {}).get("phase") == "Running":
                        running.add(pod["metadata"]["name"])
                        if len(running) == count:
                            done.set()
                            return

        observer = asyncio.create_task(observe())
        gate = asyncio.Semaphore(32)

        async def create(index: int) -> None:
            async with gate:
                response = await session.post(f"/api/v1/namespaces/{namespace}/pods", json=_pod(f"p-{index}", node))
                if response.status >= 300:
                    raise RuntimeError(f"create failed: {response.status} {await response.text()}")
                response.release()

        start = time.monotonic()
        await asyncio.gather(*(create(i) for i in range(count)))
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.monotonic() - start
        observer.cancel()
        return elapsed


def _baseline(plane: ControlPlane, workdir: Path, count: int, round_: int) -> Result:
    node = f"bench-baseline-{round_}"
    namespace = plane.create_namespace(node)
    identity = plane.node_identity(node)
    thin = Process(
        "thin-kubelet",
        [sys.executable, str(BENCH / "thin_kubelet.py"), "--kubeconfig", str(identity.kubeconfig), "--node", node],
        log_path=workdir / "thin-kubelet.log",
    )
    thin.start()
    try:
        time.sleep(1.0)
        return Result("baseline (thin kubelet)", count, asyncio.run(_burst(plane, namespace, node, count)))
    finally:
        thin.stop()


#: Where ``sitecustomize`` makes processes a build without tracing code paths; what it must have stripped.
UNTRACED = BENCH / "untraced"
UNTRACED_MODULES = {
    "controller": ("vk_controller.workqueue", "vk_controller.provider.client", "vk_controller.kubeletapi.middleware"),
    "provider": ("vk_provider_sdk.server",),
}


def _controller(
    plane: ControlPlane, workdir: Path, count: int, round_: int, log_level: str, *, untraced: bool = False
) -> Result:
    node = f"bench-vk-{'untraced-' if untraced else ''}{round_}"
    namespace = plane.create_namespace(node)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, (str(UNTRACED), os.environ.get("PYTHONPATH"))))}
    provider = start_mock_provider(
        workdir, name=f"mock-provider-{node}", extra_args=("--log-level", "warning"), env=env if untraced else None
    )
    controller = start_controller(
        plane,
        workdir,
        node_name=node,
        provider_address=provider.address,
        intervals=ControllerIntervals(lease_renew_interval=10, lease_duration=40, node_status_update_frequency=60),
        extra_args=(f"--log-level={log_level}",),
        env=env if untraced else None,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(ApiError):  # not registered yet
                node_obj = plane.rest.get(f"/api/v1/nodes/{node}")
                if any(
                    c["type"] == "Ready" and c["status"] == "True" for c in node_obj["status"].get("conditions", [])
                ):
                    break
            time.sleep(0.2)
        if untraced:  # a build that still traces would make the comparison meaningless
            for process, modules in (
                (controller.process, UNTRACED_MODULES["controller"]),
                (provider.process, UNTRACED_MODULES["provider"]),
            ):
                log = process.log_path.read_text(errors="replace")
                missing = [module for module in modules if f"untraced: {module}:" not in log]
                if missing:
                    raise RuntimeError(f"{process.name}: tracing call sites not stripped from {missing}")
        label = "untraced build" if untraced else "vk-controller + vk-provider-mock"
        return Result(label, count, asyncio.run(_burst(plane, namespace, node, count)))
    finally:
        controller.process.stop()
        provider.process.stop()


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _write(rounds: list[tuple[Result, Result]], ratio: float, count: int) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    marker = "burst" if count == 1000 else f"burst-{count}"  # one section per size; 1,000 was the first
    marker_start, marker_end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    rows = "\n".join(
        f"| {index + 1} | {base.seconds:.2f} s ({base.per_second:.0f}/s) "
        f"| {ours.seconds:.2f} s ({ours.per_second:.0f}/s) | {ours.per_second / base.per_second:.0%} |"
        for index, (base, ours) in enumerate(rounds)
    )
    section = f"""{marker_start}
## Burst: {count} pods, first create to last Running

Command: `uv run python bench/burst.py --pods {count} --rounds {len(rounds)} --write`
(machine: {_machine()}; measured {time.strftime("%Y-%m-%d")}). Each round runs the baseline (a thin kubelet that
patches every pod straight to Running) and then vk-controller + vk-provider-mock on the same control plane, each on
a fresh node and namespace; the figure is the median of the per-round throughput ratios.

| round | baseline | vk-controller | ratio |
| --- | --- | --- | --- |
{rows}

**Median ratio to baseline: {ratio:.0%}** (target of the controller-core issue: at least 50%; the performance issue
raises it to 80%).
{marker_end}"""
    if marker_start in text:
        before, rest = text.split(marker_start, 1)
        after = rest.split(marker_end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def _write_tracing_cost(
    rounds: list[tuple[Result, Result]], ratio: float, count: int, load: tuple[float, float]
) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    marker_start, marker_end = "<!-- burst-tracing:start -->", "<!-- burst-tracing:end -->"
    rows = "\n".join(
        f"| {index + 1} | {'tracing off' if index % 2 == 0 else 'untraced build'} "
        f"| {off.seconds:.2f} s ({off.per_second:.0f}/s) "
        f"| {bare.seconds:.2f} s ({bare.per_second:.0f}/s) | {off.per_second / bare.per_second:.0%} |"
        for index, (off, bare) in enumerate(rounds)
    )
    ratios = [off.per_second / bare.per_second for off, bare in rounds]
    section = f"""{marker_start}
## Burst with tracing off against a build without tracing code paths: {count} pods

Command: `uv run python bench/burst.py --pods {count} --rounds {len(rounds)} --tracing-cost --write`
(machine: {_machine()}; measured {time.strftime("%Y-%m-%d")}). Each round runs vk-controller + vk-provider-mock
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
{marker_end}"""
    if marker_start in text:
        before, rest = text.split(marker_start, 1)
        after = rest.split(marker_end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


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
        ratio = _median([off.per_second / bare.per_second for off, bare in rounds])
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
    ratio = _median([ours.per_second / base.per_second for base, ours in rounds])
    print(f"median ratio: {ratio:.0%} (logs in {workdir})")
    if args.write:
        _write(rounds, ratio, args.pods)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Burst benchmark: N pods bound to the node at once, measured from the first create to the last Running.

Both sides run against one fresh control plane in the same run: first the baseline (``thin_kubelet.py``, the
thinnest possible kubelet), then vk-controller with vk-provider-mock, each on a node of its own and a namespace of
its own, each as a separate process with a node identity. The same creator (32 concurrent creates) and the same
observer (an admin watch) measure both. The figure is the ratio of the two throughputs.

The pods set ``automountServiceAccountToken: false`` so both sides do the same API work per pod; with a token,
the controller also makes one TokenRequest per pod, which the baseline would not.

    uv run python bench/burst.py --pods 1000 [--write]

``--write`` records the result in BENCHMARKS.md.
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

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent


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


def _baseline(plane: ControlPlane, workdir: Path, count: int) -> Result:
    node = "bench-baseline"
    namespace = plane.create_namespace("bench-baseline")
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


def _controller(plane: ControlPlane, workdir: Path, count: int) -> Result:
    node = "bench-vk"
    namespace = plane.create_namespace("bench-vk")
    provider = start_mock_provider(workdir, extra_args=("--log-level", "warning"))
    controller = start_controller(
        plane,
        workdir,
        node_name=node,
        provider_address=provider.address,
        intervals=ControllerIntervals(lease_renew_interval=10, lease_duration=40, node_status_update_frequency=60),
        extra_args=("--log-level=warning",),
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
        return Result("vk-controller + vk-provider-mock", count, asyncio.run(_burst(plane, namespace, node, count)))
    finally:
        controller.process.stop()
        provider.process.stop()


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _write(results: list[Result], ratio: float, count: int) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    marker_start, marker_end = "<!-- burst:start -->", "<!-- burst:end -->"
    rows = "\n".join(f"| {r.name} | {r.pods} | {r.seconds:.2f} | {r.per_second:.0f} |" for r in results)
    section = f"""{marker_start}
## Burst: {count} pods, first create to last Running

Command: `uv run python bench/burst.py --pods {count} --write`
(machine: {_machine()}; measured {time.strftime("%Y-%m-%d")}).

| side | pods | seconds | pods/s |
| --- | --- | --- | --- |
{rows}

**Ratio to baseline: {ratio:.0%}** (target of the controller-core issue: at least 50%).
{marker_end}"""
    if marker_start in text:
        before, rest = text.split(marker_start, 1)
        after = rest.split(marker_end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-"))
    with ControlPlane(workdir) as plane:
        baseline = _baseline(plane, workdir, args.pods)
        ours = _controller(plane, workdir, args.pods)
    ratio = ours.per_second / baseline.per_second
    for result in (baseline, ours):
        print(f"{result.name}: {result.pods} pods in {result.seconds:.2f}s = {result.per_second:.0f} pods/s")
    print(f"ratio: {ratio:.0%}")
    if args.write:
        _write([baseline, ours], ratio, args.pods)
    return 0


if __name__ == "__main__":
    sys.exit(main())

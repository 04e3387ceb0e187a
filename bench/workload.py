"""What the benchmarks share: the two kubelets under test, the pods they run, and one admin view of the API server.

Every benchmark measures the thin kubelet (``thin_kubelet.py``, the baseline) and vk-controller with
vk-provider-mock on one control plane in the same run, each on a node and namespace of its own, driven and observed
by the same admin client, so that the ratio of the two says how close the controller gets to the API server's
limit on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from vk_harness import ControlPlane
from vk_harness.processes import Process
from vk_harness.rest import ApiError
from vk_harness.stack import (
    ControllerIntervals,
    ControllerProcess,
    ProviderProcess,
    start_controller,
    start_mock_provider,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def pod_manifest(name: str, node: str) -> dict[str, Any]:
    """A pod bound to ``node``; no service-account token, so both kubelets do the same API work per pod."""
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


@contextlib.asynccontextmanager
async def admin_session(plane: ControlPlane, *, connections: int = 64) -> AsyncIterator[aiohttp.ClientSession]:
    context = ssl.create_default_context(cafile=str(plane.ca.cert_path))
    context.load_cert_chain(str(plane.admin.credentials.cert_path), str(plane.admin.credentials.key_path))
    connector = aiohttp.TCPConnector(ssl=context, limit=connections)
    async with aiohttp.ClientSession(plane.server, connector=connector) as session:
        yield session


@dataclass
class PodTimes:
    """When the observer first saw each pod Running, and saw it gone; fed by one watch on the namespace."""

    running: dict[str, float] = field(default_factory=dict)
    gone: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, check: Callable[[PodTimes], bool], *, within: float = 900) -> None:
        async with asyncio.timeout(within):
            while not check(self):
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def watching(session: aiohttp.ClientSession, namespace: str) -> AsyncIterator[PodTimes]:
    """Watch ``namespace``'s pods from now on, recording the times in a :class:`PodTimes`."""
    times = PodTimes()
    listed = await (await session.get(f"/api/v1/namespaces/{namespace}/pods", params={"limit": "1"})).json()
    params = {"watch": "1", "resourceVersion": listed["metadata"]["resourceVersion"]}

    async def observe() -> None:
        async with session.get(
            f"/api/v1/namespaces/{namespace}/pods", params=params, timeout=aiohttp.ClientTimeout(total=None)
        ) as response:
            async for line in response.content:
                event = json.loads(line)
                pod = event["object"]
                name = pod["metadata"]["name"]
                now = time.monotonic()
                if event["type"] == "DELETED":
                    times.gone.setdefault(name, now)
                elif pod.get("status", {}).get("phase") == "Running":
                    times.running.setdefault(name, now)
                times.changed.set()

    task = asyncio.create_task(observe())
    try:
        yield times
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def create_pod(session: aiohttp.ClientSession, namespace: str, manifest: dict[str, Any]) -> None:
    async with session.post(f"/api/v1/namespaces/{namespace}/pods", json=manifest) as response:
        if response.status >= 300:
            raise RuntimeError(f"create failed: {response.status} {await response.text()}")


async def delete_pod(session: aiohttp.ClientSession, namespace: str, name: str) -> None:
    """A default delete, as `kubectl delete` sends it: the kubelet finishes it."""
    async with session.delete(f"/api/v1/namespaces/{namespace}/pods/{name}") as response:
        if response.status >= 300:
            raise RuntimeError(f"delete failed: {response.status} {await response.text()}")


async def create_all(session: aiohttp.ClientSession, namespace: str, node: str, names: list[str]) -> None:
    """Create the pods with 32 concurrent requests, the same for both sides."""
    gate = asyncio.Semaphore(32)

    async def one(name: str) -> None:
        async with gate:
            await create_pod(session, namespace, pod_manifest(name, node))

    await asyncio.gather(*(one(name) for name in names))


async def timed_burst(plane: ControlPlane, kubelet: Kubelet, count: int, *, prefix: str = "p") -> float:
    """Create ``count`` pods on ``kubelet``'s node; seconds from the first create to the last seen Running."""
    names = [f"{prefix}-{index}" for index in range(count)]
    async with admin_session(plane) as session, watching(session, kubelet.namespace) as times:
        start = time.monotonic()
        await create_all(session, kubelet.namespace, kubelet.node, names)
        await times.wait(lambda t: len(t.running) >= count)
        return time.monotonic() - start


@dataclass
class Kubelet:
    """One side of a comparison: its node, its namespace, and the processes to measure."""

    label: str
    node: str
    namespace: str
    processes: list[Process]

    @property
    def main(self) -> Process:
        return self.processes[0]


def _wait_node_ready(plane: ControlPlane, node: str, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiError):  # not registered yet
            conditions = plane.rest.get(f"/api/v1/nodes/{node}")["status"].get("conditions", [])
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                return
        time.sleep(0.2)
    raise RuntimeError(f"node {node} did not become Ready within {timeout:g}s")


@contextlib.contextmanager
def baseline(plane: ControlPlane, workdir: Path, name: str) -> Iterator[Kubelet]:
    """The thin kubelet on a node and namespace called ``name``."""
    namespace = plane.create_namespace(name)
    identity = plane.node_identity(name)
    thin = Process(
        "thin-kubelet",
        [sys.executable, str(BENCH / "thin_kubelet.py"), "--kubeconfig", str(identity.kubeconfig), "--node", name],
        log_path=workdir / f"{name}.log",
    )
    thin.start()
    try:
        time.sleep(1.0)  # its watch is open
        yield Kubelet("baseline (thin kubelet)", name, namespace, [thin])
    finally:
        thin.stop()


@contextlib.contextmanager
def controller(
    plane: ControlPlane, workdir: Path, name: str, *, log_level: str = "warning", env: dict[str, str] | None = None
) -> Iterator[Kubelet]:
    """vk-controller with vk-provider-mock on a node and namespace called ``name``, Ready before it is yielded."""
    namespace = plane.create_namespace(name)
    # Room for the largest benchmark (10,000 pods of 10m CPU): the node should be able to hold what runs on it.
    # Processes exit at once on SIGTERM, as the thin kubelet's pods (grace 0) do, so deletes compare like for like.
    provider: ProviderProcess = start_mock_provider(
        workdir,
        name=f"mock-provider-{name}",
        extra_args=("--log-level", "warning", "--capacity", "cpu=1000,pods=20000", "--stop-delay", "0s"),
        env=env,
    )
    running: ControllerProcess | None = None
    try:
        running = start_controller(
            plane,
            workdir,
            node_name=name,
            provider_address=provider.address,
            intervals=ControllerIntervals(lease_renew_interval=10, lease_duration=40, node_status_update_frequency=60),
            extra_args=(f"--log-level={log_level}",),
            env=env,
        )
        _wait_node_ready(plane, name)
        yield Kubelet("vk-controller + vk-provider-mock", name, namespace, [running.process, provider.process])
    finally:
        if running is not None:
            running.process.stop()
        provider.process.stop()


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid``, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def write_section(marker: str, section: str) -> None:
    """Put ``section`` between ``<!-- marker:start -->`` and ``<!-- marker:end -->`` in BENCHMARKS.md."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\n{section.strip()}\n{end}"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)

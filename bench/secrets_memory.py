"""Memory benchmark: the controller's resident memory does not grow with Secrets its pods do not reference.

The controller watches only the objects its pods name (one watch per object), never all Secrets. This measures it:
vk-controller runs 20 pods (each referencing a Secret and a ConfigMap of its own); its resident memory is read
(the baseline), then 5,000 unrelated Secrets of 1 KiB are created, and the memory is read again once the API
server has settled. The figure is the ratio after/before, and the growth in MB.

    uv run python bench/secrets_memory.py [--secrets 5000] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ssl
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from vk_harness import ControlPlane
from vk_harness.stack import ControllerIntervals, start_controller, start_mock_provider

ROOT = Path(__file__).resolve().parents[1]
NODE = "bench-memory"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def _create_secrets(plane: ControlPlane, namespace: str, count: int) -> None:
    context = ssl.create_default_context(cafile=str(plane.ca.cert_path))
    context.load_cert_chain(str(plane.admin.credentials.cert_path), str(plane.admin.credentials.key_path))
    payload = base64.b64encode(b"x" * 1024).decode()
    gate = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(plane.server, connector=aiohttp.TCPConnector(ssl=context)) as session:

        async def one(index: int) -> None:
            async with gate:
                body = {"metadata": {"name": f"unrelated-{index}"}, "data": {"blob": payload}}
                response = await session.post(f"/api/v1/namespaces/{namespace}/secrets", json=body)
                response.raise_for_status()
                response.release()

        await asyncio.gather(*(one(i) for i in range(count)))


def _wait_running(plane: ControlPlane, namespace: str, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = plane.rest.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
        if sum(p.get("status", {}).get("phase") == "Running" for p in pods) == count:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{count} pods did not reach Running within {timeout}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--secrets", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-memory-"))
    with ControlPlane(workdir) as plane:
        namespace = plane.create_namespace("bench-memory")
        other = plane.create_namespace("bench-unrelated")
        provider = start_mock_provider(workdir, extra_args=("--log-level", "warning"))
        controller = start_controller(
            plane,
            workdir,
            node_name=NODE,
            provider_address=provider.address,
            intervals=ControllerIntervals(lease_renew_interval=10, lease_duration=40, node_status_update_frequency=60),
            extra_args=("--log-level=warning",),
        )
        try:
            for index in range(args.pods):
                plane.rest.create(
                    f"/api/v1/namespaces/{namespace}/secrets",
                    {"metadata": {"name": f"own-{index}"}, "data": {"k": base64.b64encode(b"v").decode()}},
                )
                plane.rest.create(
                    f"/api/v1/namespaces/{namespace}/pods",
                    {
                        "metadata": {"name": f"p-{index}"},
                        "spec": {
                            "nodeName": NODE,
                            "containers": [
                                {
                                    "name": "main",
                                    "image": "busybox:1.36",
                                    "env": [
                                        {
                                            "name": "K",
                                            "valueFrom": {"secretKeyRef": {"name": f"own-{index}", "key": "k"}},
                                        }
                                    ],
                                }
                            ],
                        },
                    },
                )
            _wait_running(plane, namespace, args.pods)
            time.sleep(5)
            before = _rss_mb(controller.process.pid)
            asyncio.run(_create_secrets(plane, other, args.secrets))
            time.sleep(10)
            after = _rss_mb(controller.process.pid)
        finally:
            controller.process.stop()
            provider.process.stop()
    ratio = after / before
    print(
        f"controller RSS with {args.pods} pods: {before:.1f} MB; after {args.secrets} unrelated Secrets: {after:.1f} MB"
    )
    print(f"ratio after/before: {ratio:.3f} (growth {after - before:+.1f} MB)")
    if args.write:
        _write(args.secrets, args.pods, before, after)
    return 0


def _write(secrets: int, pods: int, before: float, after: float) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = "<!-- secrets-memory:start -->", "<!-- secrets-memory:end -->"
    section = f"""{start}
## Memory with {secrets} unrelated Secrets

Command: `uv run python bench/secrets_memory.py --secrets {secrets} --write` (measured {time.strftime("%Y-%m-%d")}).
vk-controller runs {pods} pods, each referencing a Secret of its own; its resident memory is the baseline. Then
{secrets} Secrets of 1 KiB that no pod references are created in another namespace.

| controller RSS | MB |
| --- | --- |
| baseline, {pods} pods | {before:.1f} |
| after {secrets} unrelated Secrets | {after:.1f} |

**Ratio after/baseline: {after / before:.3f}** ({after - before:+.1f} MB): the controller watches only the objects its
pods reference, so unrelated Secrets cost it nothing.
{end}"""
    if start in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())

"""Log streaming benchmark: ``kubectl logs -f`` of 1 GiB through the API server, and the controller's memory.

A pod annotated ``mock.virtual-kubelet.io/log-flood`` writes that many bytes of log (synthetic: vk-provider-mock
generates the lines as they are read, see provider_mock's ``flood.py``) and exits, so following ends. In the same
run, on the same control plane:

- the baseline reads the log straight from the provider's gRPC ``GetContainerLogs`` with ``follow`` (no controller,
  no API server);
- then the real ``kubectl logs -f`` (the harness's) reads it through the API server, vk-controller's kubelet API
  and the provider; its output is counted through a pipe, never stored.

The figures are the throughput ratio kubectl/baseline, and the growth of the controller's resident memory (VmRSS
from /proc, sampled every 50 ms) over its value just before the stream: the peak during the stream and the value
after it. Before that, one small warm-up stream (4 MB, another pod) goes the same way, because the first log stream
costs the controller a one-time ~8 MB whatever its size (code paths and buffers used for the first time); that cost
is reported separately ("cold"), so the growth measures what the stream's size costs.

    uv run python bench/logs_follow.py [--bytes 1073741824] [--line-length 100] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from virtualkubelet.provider.v1 import logs_pb2, pod_pb2, provider_pb2_grpc
from vk_harness import ControlPlane, binaries
from vk_harness.stack import ControllerIntervals, start_controller, start_mock_provider

ROOT = Path(__file__).resolve().parents[1]
NODE = "bench-logs"
POD, WARMUP = "flood", "warmup"
WARMUP_BYTES = 4_000_000
MB = 1_000_000


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class RssSampler:
    """The peak VmRSS of a process, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak = pid, interval, _rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_mb(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb(self.pid))


@dataclass(frozen=True)
class Stream:
    bytes: int
    seconds: float

    @property
    def mb_per_second(self) -> float:
        return self.bytes / MB / self.seconds


async def _grpc_follow(address: str, ref: pod_pb2.PodRef) -> Stream:
    """The whole log straight from the provider, counted as kubectl would write it (content and newline)."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        request = logs_pb2.GetContainerLogsRequest(pod=ref, container="main", follow=True)
        count = 0
        started = time.monotonic()
        async for message in stub.GetContainerLogs(request):
            count += sum(len(entry.content) for entry in message.entries) + len(message.entries)
        return Stream(count, time.monotonic() - started)


def _kubectl_follow(plane: ControlPlane, namespace: str, pod: str = POD) -> Stream:
    kubectl = binaries.kubernetes_binary("kubectl", plane.kubernetes_version)
    argv = [str(kubectl), f"--kubeconfig={plane.admin.kubeconfig}", "logs", "-f", "-n", namespace, pod]
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    count = 0
    while chunk := os.read(process.stdout.fileno(), 1 << 20):
        count += len(chunk)
    code = process.wait()
    seconds = time.monotonic() - started
    if code != 0:
        raise RuntimeError(
            f"kubectl logs -f failed ({code}): {process.stderr.read().decode() if process.stderr else ''}"
        )
    return Stream(count, seconds)


def _create_flood(plane: ControlPlane, namespace: str, name: str, size: int, line_length: int) -> None:
    plane.rest.create(
        f"/api/v1/namespaces/{namespace}/pods",
        {
            "metadata": {"name": name, "annotations": {"mock.virtual-kubelet.io/log-flood": f"{size},{line_length}"}},
            "spec": {
                "nodeName": NODE,
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "containers": [{"name": "main", "image": "busybox:1.36"}],
            },
        },
    )


def _wait_finished(plane: ControlPlane, namespace: str, name: str = POD, timeout: float = 120) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = plane.rest.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
        if pod.get("status", {}).get("phase") == "Succeeded":
            return dict(pod["metadata"])
        time.sleep(0.2)
    raise RuntimeError(f"the flood pod did not finish within {timeout}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bytes", type=int, default=1 << 30, help="size of the log (default 1 GiB)")
    parser.add_argument("--line-length", type=int, default=100, help="bytes per line, newline included")
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vk-bench-logs-"))
    with ControlPlane(workdir) as plane:
        namespace = plane.create_namespace("bench-logs")
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
            _create_flood(plane, namespace, POD, args.bytes, args.line_length)
            _create_flood(plane, namespace, WARMUP, WARMUP_BYTES, args.line_length)
            meta = _wait_finished(plane, namespace)
            _wait_finished(plane, namespace, WARMUP)
            ref = pod_pb2.PodRef(uid=meta["uid"], namespace=namespace, name=POD)
            baseline = asyncio.run(_grpc_follow(provider.address, ref))
            time.sleep(3)
            pid = controller.process.pid
            cold = _rss_mb(pid)
            if _kubectl_follow(plane, namespace, WARMUP).bytes != WARMUP_BYTES:
                raise RuntimeError("the warm-up stream was incomplete")
            time.sleep(3)
            before = _rss_mb(pid)
            with RssSampler(pid) as sampler:
                through = _kubectl_follow(plane, namespace)
            time.sleep(3)
            after = _rss_mb(pid)
        finally:
            controller.process.stop()
            provider.process.stop()
    for name, stream in (("baseline (gRPC)", baseline), ("kubectl logs -f", through)):
        if stream.bytes != args.bytes:
            raise RuntimeError(f"{name} read {stream.bytes} bytes, not {args.bytes}")
    ratio = through.mb_per_second / baseline.mb_per_second
    print(f"log of {args.bytes} bytes in lines of {args.line_length} bytes")
    print(
        f"baseline, provider gRPC GetContainerLogs follow: {baseline.seconds:.1f} s, {baseline.mb_per_second:.1f} MB/s"
    )
    print(f"kubectl logs -f via API server and controller: {through.seconds:.1f} s, {through.mb_per_second:.1f} MB/s")
    print(
        f"controller RSS: {cold:.1f} MB cold, {before:.1f} MB after a {WARMUP_BYTES} byte warm-up stream"
        f" ({before - cold:+.1f} MB, once)"
    )
    print(
        f"controller RSS: {before:.1f} MB before, peak {sampler.peak:.1f} MB ({sampler.peak - before:+.1f} MB), "
        f"after {after:.1f} MB ({after - before:+.1f} MB)"
    )
    print(
        f"throughput ratio kubectl/baseline: {ratio:.2f}; controller RSS growth (peak): {sampler.peak - before:+.1f} MB"
    )
    if args.write:
        _write(args, baseline, through, cold, before, sampler.peak, after)
    return 0


def _write(
    args: argparse.Namespace, baseline: Stream, through: Stream, cold: float, before: float, peak: float, after: float
) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = "<!-- logs-follow:start -->", "<!-- logs-follow:end -->"
    size = f"{args.bytes / (1 << 30):g} GiB" if args.bytes >= 1 << 30 else f"{args.bytes / (1 << 20):g} MiB"
    command = f"uv run python bench/logs_follow.py --bytes {args.bytes} --line-length {args.line_length} --write"
    section = f"""{start}
## Follow-mode logs: {size} through the API server

Command: `{command}` (measured {time.strftime("%Y-%m-%d")}). A pod of vk-provider-mock writes a synthetic log of
{args.bytes} bytes in lines of {args.line_length} bytes (annotation `mock.virtual-kubelet.io/log-flood`) and exits.
The baseline reads it straight from the provider's gRPC `GetContainerLogs` with follow; then the real
`kubectl logs -f` reads it through the API server, vk-controller and the provider (output counted through a pipe).

| path | time | throughput |
| --- | --- | --- |
| baseline: provider gRPC, follow | {baseline.seconds:.1f} s | {baseline.mb_per_second:.1f} MB/s |
| `kubectl logs -f` via API server and controller | {through.seconds:.1f} s | {through.mb_per_second:.1f} MB/s |

| controller RSS | MB |
| --- | --- |
| cold, before any log stream | {cold:.1f} |
| after a {WARMUP_BYTES / MB:g} MB warm-up stream (a one-time cost) | {before:.1f} ({before - cold:+.1f}) |
| before the stream | {before:.1f} |
| peak during the stream | {peak:.1f} ({peak - before:+.1f}) |
| after the stream | {after:.1f} ({after - before:+.1f}) |

**Throughput ratio to baseline: {through.mb_per_second / baseline.mb_per_second:.2f}**; the controller's memory
grows by {peak - before:+.1f} MB at most while streaming {size} (target: a few MB), after the one-time
{before - cold:+.1f} MB that the first log stream of any size costs.
{end}"""
    if start in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())

"""Protocol benchmark: what a pod's create and its status update cost through the provider protocol.

The same provider (vk-provider-mock's ``MockProvider``) is driven two ways in one run:

- **baseline, in process**: ``await provider.create_pod(pod)``, then wait on the provider's own status hub for the
  pod's Running record: the provider's work with no protocol at all;
- **over the protocol**: the provider served by the SDK's gRPC server in a process of its own (as in production),
  the client calling ``CreatePod`` and reading the Running record from its open ``WatchPods`` stream.

Pods go one at a time (the per-call latency) and then 32 at a time (throughput). The overhead per pod is the
difference; the ratio is baseline throughput over protocol throughput.

    uv run python bench/protocol.py [--pods 2000] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import workload

from virtualkubelet.provider.v1 import (
    container_pb2,
    handshake_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    status_pb2,
)
from vk_harness.processes import free_port
from vk_provider_mock import MockProvider
from vk_provider_sdk import serve

RUNNING = status_pb2.POD_PHASE_RUNNING


def _pod(index: int) -> pod_pb2.Pod:
    container = container_pb2.Container(name="main", image="busybox:1.36", command=["sleep", "3600"])
    return pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid=str(uuid.uuid4()), namespace="bench", name=f"p-{index}"),
        revision="r1",
        containers=[container],
        restart_policy=pod_pb2.RESTART_POLICY_NEVER,
        node_name="bench",
    )


class _Arrivals:
    """Futures for pods whose Running record has not arrived yet, resolved by one reader of the status events."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[None]] = {}

    def expect(self, uid: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[uid] = future
        return future

    def arrived(self, event: pod_requests_pb2.WatchPodsResponse) -> None:
        if event.HasField("pod") and event.pod.status.phase == RUNNING:
            future = self._waiting.pop(event.pod.ref.uid, None)
            if future is not None and not future.done():
                future.set_result(None)


@dataclass(frozen=True)
class Timing:
    sequential_seconds: float
    concurrent_seconds: float
    pods: int

    @property
    def per_pod_us(self) -> float:
        return self.sequential_seconds / self.pods * 1e6

    @property
    def per_second(self) -> float:
        return self.pods / self.concurrent_seconds


async def _measure(create: Callable[[pod_pb2.Pod], Awaitable[object]], arrivals: _Arrivals, pods: int) -> Timing:
    async def one(index: int) -> None:
        pod = _pod(index)
        running = arrivals.expect(pod.metadata.uid)
        await create(pod)
        await running

    start = time.perf_counter()
    for index in range(pods):
        await one(index)
    sequential = time.perf_counter() - start
    gate = asyncio.Semaphore(32)

    async def gated(index: int) -> None:
        async with gate:
            await one(index)

    start = time.perf_counter()
    await asyncio.gather(*(gated(pods + index) for index in range(pods)))
    return Timing(sequential, time.perf_counter() - start, pods)


async def _in_process(pods: int) -> Timing:
    provider = MockProvider()
    await provider.start()
    arrivals = _Arrivals()
    subscription = provider.pods.subscribe()

    async def read() -> None:
        async for event in subscription:
            arrivals.arrived(event)

    reader = asyncio.create_task(read())
    try:
        return await _measure(provider.create_pod, arrivals, pods)
    finally:
        reader.cancel()
        subscription.cancel()
        await provider.close()


async def _over_grpc(address: str, pods: int) -> Timing:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        version = handshake_pb2.ProtocolVersion(major=1, minor=0)
        await stub.Handshake(handshake_pb2.HandshakeRequest(protocol_version=version, node_name="bench"))
        arrivals = _Arrivals()
        watch = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())

        async def read() -> None:
            async for event in watch:
                arrivals.arrived(event)

        reader = asyncio.create_task(read())
        try:
            return await _measure(
                lambda pod: stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod)), arrivals, pods
            )
        finally:
            reader.cancel()
            watch.cancel()


async def _serve(port: int) -> None:
    async with serve(MockProvider(), listen=f"127.0.0.1:{port}"):
        print("listening", flush=True)
        await asyncio.Event().wait()


def _section(base: Timing, ours: Timing) -> str:
    overhead = ours.per_pod_us - base.per_pod_us
    return f"""
## Protocol: a pod's create and its Running status, in process against over gRPC

Command: `uv run python bench/protocol.py --pods {base.pods} --write`
(machine: {workload.machine()}; measured {time.strftime("%Y-%m-%d")}). The same provider (MockProvider) called in
process (baseline) and through the protocol from another process (CreatePod, then the Running record on the open
WatchPods stream); one pod at a time for latency, 32 at a time for throughput.

| path | one at a time, per pod | 32 at a time |
| --- | --- | --- |
| in process (baseline) | {base.per_pod_us:.0f} µs | {base.per_second:.0f} pods/s |
| over the protocol | {ours.per_pod_us:.0f} µs | {ours.per_second:.0f} pods/s |

**Protocol overhead: {overhead:.0f} µs per pod (create + status update); throughput ratio
{ours.per_second / base.per_second:.0%} of in-process.** For scale, compare with the burst baseline above (the
API server's limit on this machine): 1 / its pods per second is its time per pod.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--write", action="store_true", help="record the result in BENCHMARKS.md")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the provider process
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    base = asyncio.run(_in_process(args.pods))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "listening"
        ours = asyncio.run(_over_grpc(f"127.0.0.1:{port}", args.pods))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"in process: {base.per_pod_us:.0f} us/pod sequential, {base.per_second:.0f} pods/s concurrent")
    print(f"over gRPC:  {ours.per_pod_us:.0f} us/pod sequential, {ours.per_second:.0f} pods/s concurrent")
    print(f"overhead: {ours.per_pod_us - base.per_pod_us:.0f} us per pod")
    if args.write:
        workload.write_section("protocol", _section(base, ours))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A provider that breaks the protocol on purpose, so the conformance kit's failures can be tested.

It is built on the SDK like any Python provider and declares no optional capability. What it gets wrong, each
a mistake a real provider could make:

- every container "exits" with code 0 and every pod SUCCEEDS, whatever its script says (an invented exit code);
- DeletePod of an unknown UID answers NOT_FOUND (the protocol says OK with GONE);
- ListPods lists every pod twice (as if it had created each one twice);
- a pod with a volume it cannot provide (an ``unsupported`` hostPath) is accepted instead of refused.

Run: ``python tests/integration/broken_provider.py --listen 127.0.0.1:0``; it prints ``listening on ADDRESS``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import capabilities_pb2, node_pb2, pod_pb2, pod_requests_pb2, status_pb2
from vk_provider_sdk import Provider, ProviderInfo, cli, errors


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


class BrokenProvider(Provider):
    def __init__(self) -> None:
        super().__init__()
        self._tasks: set[asyncio.Task[None]] = set()

    def info(self) -> ProviderInfo:
        return ProviderInfo(name="broken", version="0.0.1", capabilities=capabilities_pb2.Capabilities())

    async def node(self) -> node_pb2.Node:
        return node_pb2.Node(
            capacity={"cpu": "8", "memory": "32Gi", "pods": "100"},
            system_info=node_pb2.NodeSystemInfo(operating_system="linux", architecture="amd64"),
        )

    async def ping(self) -> node_pb2.PingResponse:
        return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_HEALTHY)

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        # Wrong: no look at pod.volumes, so an unsupported volume is accepted.
        meta = pod.metadata
        ref = pod_pb2.PodRef(uid=meta.uid, namespace=meta.namespace, name=meta.name)
        pending = status_pb2.PodStatus(phase=status_pb2.POD_PHASE_PENDING)
        self.pods.publish(status_pb2.PodRecord(ref=ref, revision=pod.revision, status=pending))
        task = asyncio.create_task(self._run(ref, pod))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return pod_requests_pb2.CreatePodResponse(status=pending)

    async def _run(self, ref: pod_pb2.PodRef, pod: pod_pb2.Pod) -> None:
        await asyncio.sleep(0.05)
        started = _now()
        name = pod.containers[0].name
        running = status_pb2.ContainerStatus(
            name=name,
            state=status_pb2.ContainerState(running=status_pb2.ContainerStateRunning(started_at=started)),
            ready=True,
            started=True,
        )
        status = status_pb2.PodStatus(
            phase=status_pb2.POD_PHASE_RUNNING, start_time=started, container_statuses=[running]
        )
        self.pods.publish(status_pb2.PodRecord(ref=ref, revision=pod.revision, status=status))
        if "sleep" in " ".join(pod.containers[0].command):
            return
        await asyncio.sleep(0.05)
        # Wrong: the exit code is invented (always 0) and the pod always succeeds.
        terminated = status_pb2.ContainerStateTerminated(
            exit_code=0, reason="Completed", started_at=started, finished_at=_now()
        )
        done = status_pb2.ContainerStatus(name=name, state=status_pb2.ContainerState(terminated=terminated))
        status = status_pb2.PodStatus(
            phase=status_pb2.POD_PHASE_SUCCEEDED, start_time=started, container_statuses=[done]
        )
        self.pods.publish(status_pb2.PodRecord(ref=ref, revision=pod.revision, status=status))

    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        raise errors.Unimplemented("updates are not supported by this provider")

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        record = self.pods.get(request.pod.uid)
        if record is None:
            # Wrong: an unknown UID must answer OK with GONE.
            raise errors.NotFound(f"pod {request.pod.uid} not found")
        self.pods.delete(record.ref, requested=True)
        return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE, status=record.status)

    async def list_pods(self) -> list[status_pb2.PodRecord]:
        # Wrong: every pod twice.
        records = self.pods.records()
        return records + records


def main() -> int:
    def make(args: argparse.Namespace) -> Provider:
        return BrokenProvider()

    return cli.run(make, prog="broken-provider", description="A provider that breaks the protocol on purpose.")


if __name__ == "__main__":
    sys.exit(main())

"""The mock provider, lying in its status stream on purpose, so the fault suite can show the controller copes.

It runs every pod as the mock does (same flags, same state file) and adds, per pod annotation ``lie`` (the
mock's own ``mock.virtual-kubelet.io/`` annotations still script the pod):

- ``ghost``: alongside the real pod, a record for a pod nobody created (a fresh UID, the name ``<pod>-ghost``);
- ``resurrect``: once the pod has Succeeded, a record saying it Runs again (a transition no pod can make);
- ``oversized``: every record carries a pod message and a container message of ``OVERSIZED_BYTES`` (3 MiB),
  past the 1.5 MiB an etcd request may carry, so a controller that copied it verbatim could never write status.

What it told is kept in the state file next to the mock's pods: ``lies`` (UID to lie) and ``ghosts`` (ghost UID to
``published`` or ``deleted``, the latter once the controller asked to delete it).

Run: ``python tests/integration/lying_provider.py --listen 127.0.0.1:PORT --state-file FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from typing import Any

from virtualkubelet.provider.v1 import pod_pb2, pod_requests_pb2, status_pb2
from vk_provider_mock import config
from vk_provider_mock.provider import MockProvider
from vk_provider_mock.runtime import MockPod
from vk_provider_sdk import Provider, cli

LIE = "lie"
OVERSIZED_BYTES = 3 * 1024 * 1024
RESURRECT_AFTER = 0.5


class LyingProvider(MockProvider):
    def __init__(self, settings: config.MockConfig) -> None:
        super().__init__(settings)
        self.lies: dict[str, str] = {}
        self.ghosts: dict[str, str] = {}

    def _touch(self, mock: MockPod) -> None:
        super()._touch(mock)
        if mock.gone:
            return
        lie = mock.spec.metadata.annotations.get(LIE)
        record = self.pods.get(mock.uid)
        if lie is None or record is None:
            return
        if lie == "ghost" and mock.uid not in self.lies:
            self._publish_ghost(mock.ref)
        elif lie == "oversized":
            self._publish_oversized(record)
        elif lie == "resurrect" and record.status.phase == status_pb2.POD_PHASE_SUCCEEDED and mock.uid not in self.lies:
            self.lies[mock.uid] = "scheduled"
            asyncio.get_running_loop().call_later(RESURRECT_AFTER, self._resurrect, mock.uid)

    def _publish_ghost(self, real: pod_pb2.PodRef) -> None:
        ghost = pod_pb2.PodRef(uid=str(uuid.uuid4()), namespace=real.namespace, name=f"{real.name}-ghost")
        running = status_pb2.PodStatus(phase=status_pb2.POD_PHASE_RUNNING, pod_ips=["10.255.0.1"])
        self.pods.publish(status_pb2.PodRecord(ref=ghost, revision="ghost", status=running))
        self.lies[real.uid] = "ghost"
        self.ghosts[ghost.uid] = "published"
        self._changed_state()

    def _publish_oversized(self, record: status_pb2.PodRecord) -> None:
        lie = status_pb2.PodRecord()
        lie.CopyFrom(record)
        lie.status.reason = "Oversized" * 100
        lie.status.message = "x" * OVERSIZED_BYTES
        for container in lie.status.container_statuses:
            if container.state.WhichOneof("state") == "waiting":
                container.state.waiting.message = "y" * OVERSIZED_BYTES
        self.pods.publish(lie)
        if self.lies.get(record.ref.uid) != "oversized":
            self.lies[record.ref.uid] = "oversized"
            self._changed_state()

    def _resurrect(self, uid: str) -> None:
        record = self.pods.get(uid)
        if record is None:
            return
        lie = status_pb2.PodRecord()
        lie.CopyFrom(record)
        lie.status.phase = status_pb2.POD_PHASE_RUNNING
        for container in lie.status.container_statuses:
            started = container.state.terminated.started_at
            container.state.ClearField("terminated")
            container.state.running.started_at.CopyFrom(started)
            container.ready = True
        self.pods.publish(lie)
        self.lies[uid] = "resurrect"
        self._changed_state()

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        if request.pod.uid in self.ghosts:
            self.pods.delete(request.pod, requested=True)
            self.ghosts[request.pod.uid] = "deleted"
            self._changed_state()
            return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE)
        return await super().delete_pod(request)

    def _changed_state(self) -> None:
        if self._state is not None:
            self._state.changed()

    def _snapshot(self) -> dict[str, Any]:
        return {**super()._snapshot(), "lies": dict(self.lies), "ghosts": dict(self.ghosts)}


def main() -> int:
    def make(args: argparse.Namespace) -> Provider:
        return LyingProvider(config.from_args(args))

    return cli.run(
        make,
        prog="lying-provider",
        description="The mock provider, lying in its status stream on purpose.",
        add_arguments=config.add_arguments,
    )


if __name__ == "__main__":
    sys.exit(main())

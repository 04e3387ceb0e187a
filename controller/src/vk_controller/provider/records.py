"""A provider's pod record, with the conversions the rest of the controller needs (no protobuf leaks out)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from virtualkubelet.provider.v1 import pod_pb2, status_pb2
from vk_controller.kube.times import format_time
from vk_controller.provider.status import MAX_MESSAGE_BYTES, MAX_REASON_BYTES, PHASES, clamp, container_statuses

Json = dict[str, Any]


@dataclass(frozen=True)
class RunningContainer:
    name: str
    image: str


@dataclass(frozen=True)
class RunningPod:
    """A pod with at least one running container, as a container runtime lists it (the kubelet's /runningpods/)."""

    uid: str
    namespace: str
    name: str
    containers: tuple[RunningContainer, ...]


@dataclass(frozen=True)
class ProviderPod:
    ref: pod_pb2.PodRef
    revision: str
    deleting: bool
    status: status_pb2.PodStatus

    @classmethod
    def from_record(cls, record: status_pb2.PodRecord) -> ProviderPod:
        return cls(ref=record.ref, revision=record.revision, deleting=record.deleting, status=record.status)

    @classmethod
    def from_status(cls, ref: pod_pb2.PodRef, revision: str, status: status_pb2.PodStatus) -> ProviderPod:
        return cls(ref=ref, revision=revision, deleting=False, status=status)

    @property
    def uid(self) -> str:
        return self.ref.uid

    @property
    def key(self) -> str:
        return f"{self.ref.namespace}/{self.ref.name}"

    @property
    def phase(self) -> str | None:
        return PHASES.get(self.status.phase)

    def kubernetes_status(self, spec: Json) -> Json:
        """The status fields the provider's report determines, in the API's JSON (phase and conditions excluded)."""
        status = self.status
        out: Json = {
            "containerStatuses": container_statuses(spec.get("containers", []), list(status.container_statuses)),
        }
        if spec.get("initContainers"):
            out["initContainerStatuses"] = container_statuses(
                spec["initContainers"], list(status.init_container_statuses)
            )
        if status.pod_ips:
            out["podIP"] = status.pod_ips[0]
            out["podIPs"] = [{"ip": ip} for ip in status.pod_ips]
        if status.host_ips:
            out["hostIP"] = status.host_ips[0]
            out["hostIPs"] = [{"ip": ip} for ip in status.host_ips]
        if status.HasField("start_time"):
            out["startTime"] = format_time(status.start_time.ToDatetime(tzinfo=datetime.UTC))
        if status.reason:
            out["reason"] = clamp(status.reason, MAX_REASON_BYTES)
        if status.message:
            out["message"] = clamp(status.message, MAX_MESSAGE_BYTES)
        return out

    def running(self) -> RunningPod | None:
        """The running containers (init containers included), or None if nothing runs."""
        status = self.status
        containers = tuple(
            RunningContainer(name=c.name, image=c.image)
            for c in [*status.init_container_statuses, *status.container_statuses]
            if c.HasField("state") and c.state.WhichOneof("state") == "running"
        )
        if not containers:
            return None
        return RunningPod(uid=self.uid, namespace=self.ref.namespace, name=self.ref.name, containers=containers)

    def ref_parts(self) -> tuple[str, str, str]:
        return self.ref.uid, self.ref.namespace, self.ref.name


def pod_ref(uid: str, namespace: str, name: str) -> pod_pb2.PodRef:
    return pod_pb2.PodRef(uid=uid, namespace=namespace, name=name)

"""Resource usage from the provider (``GetStatsSummary``), as plain data for ``/stats/summary`` and
``/metrics/resource``.

Missing stays missing: every number is ``None`` when the provider left it unset, and a group the provider did not
send is ``None``, never a group of zeros. The one thing filled in here is a group's sample time when the provider
left it unset: the protocol says the controller then uses the time it received the response. Times are integer
nanoseconds since the epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message

from virtualkubelet.provider.v1 import stats_pb2
from vk_controller.provider.client import ProviderClient


@dataclass(frozen=True)
class Cpu:
    time_ns: int
    usage_nano_cores: int | None = None
    usage_core_nano_seconds: int | None = None


@dataclass(frozen=True)
class Memory:
    time_ns: int
    available_bytes: int | None = None
    usage_bytes: int | None = None
    working_set_bytes: int | None = None
    rss_bytes: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None


@dataclass(frozen=True)
class Interface:
    name: str
    rx_bytes: int | None = None
    rx_errors: int | None = None
    tx_bytes: int | None = None
    tx_errors: int | None = None


@dataclass(frozen=True)
class Network:
    time_ns: int
    interfaces: tuple[Interface, ...] = ()


@dataclass(frozen=True)
class Fs:
    time_ns: int
    available_bytes: int | None = None
    capacity_bytes: int | None = None
    used_bytes: int | None = None
    inodes_free: int | None = None
    inodes: int | None = None
    inodes_used: int | None = None


@dataclass(frozen=True)
class ContainerUsage:
    name: str
    start_ns: int | None = None
    cpu: Cpu | None = None
    memory: Memory | None = None
    rootfs: Fs | None = None
    logs: Fs | None = None


@dataclass(frozen=True)
class VolumeUsage:
    name: str
    fs: Fs | None = None


@dataclass(frozen=True)
class PodUsage:
    uid: str
    namespace: str
    name: str
    start_ns: int | None = None
    containers: tuple[ContainerUsage, ...] = ()
    cpu: Cpu | None = None
    memory: Memory | None = None
    network: Network | None = None
    volumes: tuple[VolumeUsage, ...] = ()
    ephemeral_storage: Fs | None = None
    process_count: int | None = None


@dataclass(frozen=True)
class NodeUsage:
    start_ns: int | None = None
    cpu: Cpu | None = None
    memory: Memory | None = None
    network: Network | None = None
    fs: Fs | None = None


@dataclass(frozen=True)
class StatsSummary:
    #: None when the backend has no node-level numbers.
    node: NodeUsage | None
    pods: tuple[PodUsage, ...]


_Sampled = stats_pb2.CPUStats | stats_pb2.MemoryStats | stats_pb2.NetworkStats | stats_pb2.FsStats


def _time(stamp: timestamp_pb2.Timestamp, present: bool) -> int | None:
    return stamp.ToNanoseconds() if present else None


def _opt(message: Message, name: str) -> int | None:
    return int(getattr(message, name)) if message.HasField(name) else None


class _Converter:
    def __init__(self, received_ns: int) -> None:
        self._received = received_ns

    def _sampled(self, message: _Sampled) -> int:
        if message.HasField("time"):
            return int(message.time.ToNanoseconds())
        return self._received

    def cpu(self, parent: Message, field: str) -> Cpu | None:
        if not parent.HasField(field):
            return None
        cpu: stats_pb2.CPUStats = getattr(parent, field)
        return Cpu(
            time_ns=self._sampled(cpu),
            usage_nano_cores=_opt(cpu, "usage_nano_cores"),
            usage_core_nano_seconds=_opt(cpu, "usage_core_nano_seconds"),
        )

    def memory(self, parent: Message, field: str) -> Memory | None:
        if not parent.HasField(field):
            return None
        memory: stats_pb2.MemoryStats = getattr(parent, field)
        return Memory(
            time_ns=self._sampled(memory),
            available_bytes=_opt(memory, "available_bytes"),
            usage_bytes=_opt(memory, "usage_bytes"),
            working_set_bytes=_opt(memory, "working_set_bytes"),
            rss_bytes=_opt(memory, "rss_bytes"),
            page_faults=_opt(memory, "page_faults"),
            major_page_faults=_opt(memory, "major_page_faults"),
        )

    def network(self, parent: Message, field: str) -> Network | None:
        if not parent.HasField(field):
            return None
        network: stats_pb2.NetworkStats = getattr(parent, field)
        return Network(
            time_ns=self._sampled(network),
            interfaces=tuple(
                Interface(
                    name=interface.name,
                    rx_bytes=_opt(interface, "rx_bytes"),
                    rx_errors=_opt(interface, "rx_errors"),
                    tx_bytes=_opt(interface, "tx_bytes"),
                    tx_errors=_opt(interface, "tx_errors"),
                )
                for interface in network.interfaces
            ),
        )

    def fs(self, parent: Message, field: str) -> Fs | None:
        if not parent.HasField(field):
            return None
        fs: stats_pb2.FsStats = getattr(parent, field)
        return Fs(
            time_ns=self._sampled(fs),
            available_bytes=_opt(fs, "available_bytes"),
            capacity_bytes=_opt(fs, "capacity_bytes"),
            used_bytes=_opt(fs, "used_bytes"),
            inodes_free=_opt(fs, "inodes_free"),
            inodes=_opt(fs, "inodes"),
            inodes_used=_opt(fs, "inodes_used"),
        )

    def container(self, container: stats_pb2.ContainerStats) -> ContainerUsage:
        return ContainerUsage(
            name=container.name,
            start_ns=_time(container.start_time, container.HasField("start_time")),
            cpu=self.cpu(container, "cpu"),
            memory=self.memory(container, "memory"),
            rootfs=self.fs(container, "rootfs"),
            logs=self.fs(container, "logs"),
        )

    def pod(self, pod: stats_pb2.PodStats) -> PodUsage:
        return PodUsage(
            uid=pod.pod.uid,
            namespace=pod.pod.namespace,
            name=pod.pod.name,
            start_ns=_time(pod.start_time, pod.HasField("start_time")),
            containers=tuple(self.container(container) for container in pod.containers),
            cpu=self.cpu(pod, "cpu"),
            memory=self.memory(pod, "memory"),
            network=self.network(pod, "network"),
            volumes=tuple(VolumeUsage(name=volume.name, fs=self.fs(volume, "fs")) for volume in pod.volumes),
            ephemeral_storage=self.fs(pod, "ephemeral_storage"),
            process_count=_opt(pod, "process_count"),
        )

    def node(self, response: stats_pb2.GetStatsSummaryResponse) -> NodeUsage | None:
        if not response.HasField("node"):
            return None
        node = response.node
        return NodeUsage(
            start_ns=_time(node.start_time, node.HasField("start_time")),
            cpu=self.cpu(node, "cpu"),
            memory=self.memory(node, "memory"),
            network=self.network(node, "network"),
            fs=self.fs(node, "fs"),
        )


def summary_from(response: stats_pb2.GetStatsSummaryResponse, *, received_ns: int) -> StatsSummary:
    convert = _Converter(received_ns)
    return StatsSummary(node=convert.node(response), pods=tuple(convert.pod(pod) for pod in response.pods))


async def stats_summary(client: ProviderClient) -> StatsSummary:
    """The provider's usage report; raises the call's :class:`~vk_provider_sdk.errors.ProviderError`."""
    response = await client.get_stats_summary()
    return summary_from(response, received_ns=time.time_ns())


__all__ = [
    "ContainerUsage",
    "Cpu",
    "Fs",
    "Interface",
    "Memory",
    "Network",
    "NodeUsage",
    "PodUsage",
    "StatsSummary",
    "VolumeUsage",
    "stats_summary",
    "summary_from",
]

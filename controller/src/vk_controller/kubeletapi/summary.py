"""``/stats/summary``'s JSON (stats ``v1alpha1``) from the provider's usage report.

Shapes follow the Go types' JSON tags: missing numbers and groups are left out (``omitempty`` pointers), times are
``metav1.Time`` (RFC 3339 at second precision; an unknown start time is ``null``, as the zero time encodes), and
the default network interface is inlined into ``network`` beside the ``interfaces`` list. Volume entries get the
PVC reference from the pod's spec. With ``only_cpu_and_memory`` the node keeps its name, start time, cpu and memory,
and pods their reference, start time, containers, cpu and memory.
"""

from __future__ import annotations

import datetime
from typing import Any

from vk_controller.provider.stats import (
    ContainerUsage,
    Cpu,
    Fs,
    Interface,
    Memory,
    Network,
    NodeUsage,
    PodUsage,
    StatsSummary,
)

Json = dict[str, Any]


def metav1_time(time_ns: int | None) -> str | None:
    if time_ns is None:
        return None
    moment = datetime.datetime.fromtimestamp(time_ns // 1_000_000_000, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(out: Json, **values: int | None) -> Json:
    out.update({key: value for key, value in values.items() if value is not None})
    return out


def cpu_json(cpu: Cpu) -> Json:
    return _fields(
        {"time": metav1_time(cpu.time_ns)},
        usageNanoCores=cpu.usage_nano_cores,
        usageCoreNanoSeconds=cpu.usage_core_nano_seconds,
    )


def memory_json(memory: Memory) -> Json:
    return _fields(
        {"time": metav1_time(memory.time_ns)},
        availableBytes=memory.available_bytes,
        usageBytes=memory.usage_bytes,
        workingSetBytes=memory.working_set_bytes,
        rssBytes=memory.rss_bytes,
        pageFaults=memory.page_faults,
        majorPageFaults=memory.major_page_faults,
    )


def _interface_json(interface: Interface, out: Json) -> Json:
    out["name"] = interface.name
    return _fields(
        out,
        rxBytes=interface.rx_bytes,
        rxErrors=interface.rx_errors,
        txBytes=interface.tx_bytes,
        txErrors=interface.tx_errors,
    )


def network_json(network: Network) -> Json:
    out: Json = {"time": metav1_time(network.time_ns)}
    if network.interfaces:
        _interface_json(network.interfaces[0], out)
        out["interfaces"] = [_interface_json(interface, {}) for interface in network.interfaces]
    else:
        out["name"] = ""
    return out


def fs_json(fs: Fs, out: Json | None = None) -> Json:
    return _fields(
        {**(out or {}), "time": metav1_time(fs.time_ns)},
        availableBytes=fs.available_bytes,
        capacityBytes=fs.capacity_bytes,
        usedBytes=fs.used_bytes,
        inodesFree=fs.inodes_free,
        inodes=fs.inodes,
        inodesUsed=fs.inodes_used,
    )


def container_json(container: ContainerUsage, *, only_cpu_and_memory: bool) -> Json:
    out: Json = {"name": container.name, "startTime": metav1_time(container.start_ns)}
    if container.cpu is not None:
        out["cpu"] = cpu_json(container.cpu)
    if container.memory is not None:
        out["memory"] = memory_json(container.memory)
    if not only_cpu_and_memory:
        if container.rootfs is not None:
            out["rootfs"] = fs_json(container.rootfs)
        if container.logs is not None:
            out["logs"] = fs_json(container.logs)
    return out


def _claims(pod: Json | None) -> dict[str, str]:
    """Volume name to PVC name, from the pod's spec."""
    volumes = ((pod or {}).get("spec") or {}).get("volumes") or []
    return {
        volume["name"]: volume["persistentVolumeClaim"]["claimName"]
        for volume in volumes
        if (volume.get("persistentVolumeClaim") or {}).get("claimName")
    }


def pod_json(usage: PodUsage, pod: Json | None, *, only_cpu_and_memory: bool) -> Json:
    out: Json = {
        "podRef": {"name": usage.name, "namespace": usage.namespace, "uid": usage.uid},
        "startTime": metav1_time(usage.start_ns),
        "containers": [container_json(c, only_cpu_and_memory=only_cpu_and_memory) for c in usage.containers],
    }
    if usage.cpu is not None:
        out["cpu"] = cpu_json(usage.cpu)
    if usage.memory is not None:
        out["memory"] = memory_json(usage.memory)
    if only_cpu_and_memory:
        return out
    if usage.network is not None:
        out["network"] = network_json(usage.network)
    claims = _claims(pod)
    volumes = []
    for volume in usage.volumes:
        if volume.fs is None:
            continue
        entry = fs_json(volume.fs, {"name": volume.name})
        if volume.name in claims:
            entry["pvcRef"] = {"name": claims[volume.name], "namespace": usage.namespace}
        volumes.append(entry)
    if volumes:
        out["volume"] = volumes
    if usage.ephemeral_storage is not None:
        out["ephemeral-storage"] = fs_json(usage.ephemeral_storage)
    if usage.process_count is not None:
        out["process_stats"] = {"process_count": usage.process_count}
    return out


def node_json(node_name: str, usage: NodeUsage | None, *, only_cpu_and_memory: bool) -> Json:
    usage = usage or NodeUsage()
    out: Json = {"nodeName": node_name, "startTime": metav1_time(usage.start_ns)}
    if usage.cpu is not None:
        out["cpu"] = cpu_json(usage.cpu)
    if usage.memory is not None:
        out["memory"] = memory_json(usage.memory)
    if not only_cpu_and_memory:
        if usage.network is not None:
            out["network"] = network_json(usage.network)
        if usage.fs is not None:
            out["fs"] = fs_json(usage.fs)
    return out


def summary_json(
    node_name: str,
    summary: StatsSummary,
    *,
    pods: dict[str, Json] | None = None,
    only_cpu_and_memory: bool = False,
) -> Json:
    """The Summary; ``pods`` (by UID) supplies the specs that name each volume's claim."""
    pods = pods or {}
    return {
        "node": node_json(node_name, summary.node, only_cpu_and_memory=only_cpu_and_memory),
        "pods": [
            pod_json(usage, pods.get(usage.uid), only_cpu_and_memory=only_cpu_and_memory) for usage in summary.pods
        ],
    }


__all__ = ["metav1_time", "summary_json"]

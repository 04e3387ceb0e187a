"""The Handshake's node template (protobuf) as a :class:`vk_controller.node.template.NodeTemplate`."""

from __future__ import annotations

import datetime

from virtualkubelet.provider.v1 import node_pb2
from vk_controller.kube.times import format_time
from vk_controller.node.template import Json, NodeTemplate

_EFFECTS = {
    node_pb2.TAINT_EFFECT_NO_SCHEDULE: "NoSchedule",
    node_pb2.TAINT_EFFECT_PREFER_NO_SCHEDULE: "PreferNoSchedule",
    node_pb2.TAINT_EFFECT_NO_EXECUTE: "NoExecute",
}
_STATUSES = {
    node_pb2.CONDITION_STATUS_TRUE: "True",
    node_pb2.CONDITION_STATUS_FALSE: "False",
    node_pb2.CONDITION_STATUS_UNKNOWN: "Unknown",
}
_ADDRESS_TYPES = {
    node_pb2.NODE_ADDRESS_TYPE_EXTERNAL_IP: "ExternalIP",
    node_pb2.NODE_ADDRESS_TYPE_INTERNAL_DNS: "InternalDNS",
    node_pb2.NODE_ADDRESS_TYPE_EXTERNAL_DNS: "ExternalDNS",
    # InternalIP and Hostname are the controller's own: the API server reaches the kubelet API through them.
}


def _condition(condition: node_pb2.NodeCondition) -> Json:
    out: Json = {"type": condition.type, "status": _STATUSES.get(condition.status, "Unknown")}
    if condition.reason:
        out["reason"] = condition.reason
    if condition.message:
        out["message"] = condition.message
    if condition.HasField("last_transition_time"):
        out["lastTransitionTime"] = format_time(condition.last_transition_time.ToDatetime(tzinfo=datetime.UTC))
    return out


def node_template(node: node_pb2.Node, *, provider_name: str, provider_version: str) -> NodeTemplate:
    info = node.system_info
    return NodeTemplate(
        provider_name=provider_name,
        provider_version=provider_version,
        capacity=dict(node.capacity),
        allocatable=dict(node.allocatable) or dict(node.capacity),
        labels=dict(node.labels),
        annotations=dict(node.annotations),
        taints=[
            {"key": t.key, "value": t.value, "effect": _EFFECTS[t.effect]} for t in node.taints if t.effect in _EFFECTS
        ],
        conditions=[_condition(c) for c in node.conditions if c.type and c.type != "Ready"],
        addresses=[
            {"type": _ADDRESS_TYPES[a.type], "address": a.address} for a in node.addresses if a.type in _ADDRESS_TYPES
        ],
        node_info={
            "operatingSystem": info.operating_system or "linux",
            "architecture": info.architecture or "amd64",
            "kernelVersion": info.kernel_version,
            "osImage": info.os_image,
            "containerRuntimeVersion": info.container_runtime_version or f"{provider_name}://{provider_version}",
            "machineID": info.machine_id,
            "systemUUID": info.system_uuid,
            "bootID": info.boot_id,
        },
        zone=node.zone,
        region=node.region,
    )

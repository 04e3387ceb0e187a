"""What the mock refuses at CreatePod (INVALID_ARGUMENT, naming the field), though it runs nothing for real.

The mock accepts everything a serverless backend plausibly can, so that it exercises the controller broadly, and
refuses what the protocol says a provider must refuse rather than ignore:

- a volume whose source is unset (a source added in a later protocol minor) or of a kind the protocol does not
  model (``unsupported``: hostPath, nfs, csi, ...);
- ``hostNetwork: true`` (there is no host to share);
- ``status.hostIP``/``hostIPs`` env values (the mock reports no host IP, so it cannot provide them);
- enum values it does not know (restart policy, runtime values) and probes or hooks without a handler;
- a pod without containers or without a UID.

Fields the mock ignores, as a backend may ignore hints: image pull policy and credentials, security contexts,
DNS configuration, host aliases, priority, runtime class, lifecycle hooks (preStop is not run), ports.
"""

from __future__ import annotations

from virtualkubelet.provider.v1 import container_pb2, pod_pb2
from vk_provider_sdk import errors

_POLICIES = set(pod_pb2.RestartPolicy.values())
_RUNTIME_OK = {container_pb2.RUNTIME_VALUE_POD_IP, container_pb2.RUNTIME_VALUE_POD_IPS}
_RUNTIME_FIELD = {
    container_pb2.RUNTIME_VALUE_HOST_IP: "status.hostIP",
    container_pb2.RUNTIME_VALUE_HOST_IPS: "status.hostIPs",
}


def validate(pod: pod_pb2.Pod) -> None:
    """Raise InvalidPod for the first thing the mock cannot run."""
    if not pod.metadata.uid:
        raise errors.InvalidPod("metadata.uid: required")
    if not pod.containers:
        raise errors.InvalidPod("spec.containers: at least one container is required")
    if pod.restart_policy not in _POLICIES:
        raise errors.InvalidPod(f"spec.restartPolicy: unknown value {pod.restart_policy}")
    if pod.host_network:
        raise errors.InvalidPod("spec.hostNetwork: host networking is not supported by the mock provider")
    for index, volume in enumerate(pod.volumes):
        kind = volume.WhichOneof("source")
        if kind is None:
            raise errors.InvalidPod(f"spec.volumes[{index}]: volume source not set or not known to this provider")
        if kind == "unsupported":
            raise errors.InvalidPod(
                f"spec.volumes[{index}].{volume.unsupported.kind}: {volume.unsupported.kind} volumes are not "
                "supported by the mock provider"
            )
    names = set()
    for field, containers in (("initContainers", pod.init_containers), ("containers", pod.containers)):
        for index, container in enumerate(containers):
            path = f"spec.{field}[{index}]"
            if not container.name or container.name in names:
                raise errors.InvalidPod(f"{path}.name: missing or not unique")
            names.add(container.name)
            _validate_container(path, container)


def _validate_container(path: str, container: container_pb2.Container) -> None:
    for index, var in enumerate(container.env):
        if var.WhichOneof("source") != "runtime_value" or var.runtime_value in _RUNTIME_OK:
            continue
        field = _RUNTIME_FIELD.get(var.runtime_value)
        if field is not None:
            raise errors.InvalidPod(
                f"{path}.env[{index}].valueFrom.fieldRef: {field} is not available: the mock provider reports no "
                "host IP"
            )
        raise errors.InvalidPod(f"{path}.env[{index}].valueFrom: unknown runtime value {var.runtime_value}")
    for name in ("liveness_probe", "readiness_probe", "startup_probe"):
        if container.HasField(name) and getattr(container, name).WhichOneof("handler") is None:
            camel = name.split("_")[0] + "Probe"
            raise errors.InvalidPod(f"{path}.{camel}: no handler set, or one unknown to this provider")
    lifecycle = container.lifecycle
    hooks = (
        ("postStart", lifecycle.HasField("post_start"), lifecycle.post_start),
        ("preStop", lifecycle.HasField("pre_stop"), lifecycle.pre_stop),
    )
    for camel, present, handler in hooks:
        if present and handler.WhichOneof("action") is None:
            raise errors.InvalidPod(f"{path}.lifecycle.{camel}: no action set, or one unknown to this provider")


__all__ = ["validate"]

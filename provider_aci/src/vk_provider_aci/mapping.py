"""Pod → container group: the ARM JSON body of ``PUT .../containerGroups/{name}``, or InvalidPod naming the field.

Pure functions of the protocol's ``Pod`` and the configuration, so every rule is unit-tested without Azure.

Decisions a user can notice:

- **command and args.** ACI has one list, ``command``, which replaces the image's ENTRYPOINT *and* CMD. A pod with
  ``command`` runs ``command + args`` exactly as Kubernetes would. A pod with neither runs the image's defaults
  (no ``command`` is sent). A pod with ``args`` but no ``command`` would need the image's ENTRYPOINT, which only
  the registry knows; rather than guess (and run something else than Kubernetes would), it is refused with
  INVALID_ARGUMENT on ``spec.containers[i].args``: the user repeats the entrypoint in ``command``.
- **Resources.** ``cpu`` is the request (else the limit, else 1 core) in cores rounded up to 0.01; ``memoryInGB``
  is the request (else the limit, else 1.5) in GiB rounded up to 0.1 (ACI's "GB" are GiB). Limits are sent when
  set. ``nvidia.com/gpu`` becomes a GPU resource of ``--gpu-sku`` (refused if none is configured). Ephemeral
  storage is a hint ACI cannot enforce and is ignored.
- **Files.** configMap, secret, downwardAPI and projected volumes (the service-account token of ``kube-api-access``
  included) become ACI *secret* volumes (base64 contents, kept by ACI like secrets and never returned by ARM).
  File modes cannot be set on ACI and are ignored; files in sub-directories are refused (ACI secret volumes are
  flat). emptyDir is always disk-backed on ACI (``medium: Memory`` is accepted, without tmpfs).
- **Secrets** go only where ARM keeps them secret: ``secureValue`` for sensitive env vars, secret volumes,
  ``imageRegistryCredentials[].password``, ``storageAccountKey``, ``workspaceKey``.
- **Probes.** exec and httpGet liveness/readiness probes map one to one; tcpSocket and gRPC probes and startup
  probes have no ACI equivalent and are refused, because dropping them would change when the pod is ready.
- **Ignored hints:** image pull policy (ACI always pulls), hostname and subdomain (ACI names the host), priority,
  termination message settings, ``stdin``/``tty`` (there is no attach), file modes, ``fsGroup``.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, volume_pb2
from vk_provider_aci.config import TAG_PREFIX, AciConfig
from vk_provider_sdk import errors

BACKEND = "Azure Container Instances"
TAG_NODE = TAG_PREFIX + "node"
TAG_UID = TAG_PREFIX + "pod-uid"
TAG_NAMESPACE = TAG_PREFIX + "namespace"
TAG_NAME = TAG_PREFIX + "name"
TAG_REVISION = TAG_PREFIX + "revision"
GPU_RESOURCE = "nvidia.com/gpu"
#: ACI's defaults when a container requests nothing.
DEFAULT_CPU = 1.0
DEFAULT_MEMORY_GB = 1.5
#: The user name ACR expects with an identity token as password.
ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000"  # noqa: S105 - a user name, not a secret

_RESTART = {
    pod_pb2.RESTART_POLICY_UNSPECIFIED: "Always",
    pod_pb2.RESTART_POLICY_ALWAYS: "Always",
    pod_pb2.RESTART_POLICY_ON_FAILURE: "OnFailure",
    pod_pb2.RESTART_POLICY_NEVER: "Never",
}
_PROTOCOL = {
    container_pb2.PORT_PROTOCOL_UNSPECIFIED: "TCP",
    container_pb2.PORT_PROTOCOL_TCP: "TCP",
    container_pb2.PORT_PROTOCOL_UDP: "UDP",
}
_NAME_CHARS = re.compile(r"[^a-z0-9-]+")


def _refuse(field: str, why: str) -> errors.InvalidPod:
    return errors.InvalidPod(f"{field}: {why}", domain="aci")


def group_name(pod: pod_pb2.Pod) -> str:
    """The container group's name: readable namespace-name, then the UID (unique; at most 63 of [a-z0-9-])."""
    meta = pod.metadata
    readable = _NAME_CHARS.sub("-", f"{meta.namespace}-{meta.name}".lower()).strip("-")[:30].strip("-")
    uid = re.sub(r"[^a-z0-9]", "", meta.uid.lower())
    return f"{readable}-{uid}" if readable else uid


def tags(pod: pod_pb2.Pod, *, node_name: str, extra: dict[str, str]) -> dict[str, str]:
    """The group's tags: identity (for adoption after a restart), the revision, then the configured extras."""
    meta = pod.metadata
    result = {**extra, TAG_NODE: node_name, TAG_UID: meta.uid, TAG_NAMESPACE: meta.namespace, TAG_NAME: meta.name}
    if pod.revision and len(pod.revision) <= 256:
        result[TAG_REVISION] = pod.revision
    return result


def container_group(pod: pod_pb2.Pod, config: AciConfig, *, node_name: str) -> dict[str, Any]:
    """The ARM body for the pod; InvalidPod naming the first field ACI cannot run."""
    _check_pod(pod)
    volumes = [_volume(volume, index) for index, volume in enumerate(pod.volumes)]
    volume_names = {volume.name for volume in pod.volumes}
    containers = [_container(c, f"spec.containers[{i}]", config, volume_names) for i, c in enumerate(pod.containers)]
    if not containers:
        raise _refuse("spec.containers", "a pod needs at least one container")
    init_containers = [
        _init_container(c, f"spec.initContainers[{i}]", volume_names) for i, c in enumerate(pod.init_containers)
    ]
    properties: dict[str, Any] = {
        "containers": containers,
        "osType": "Linux",
        "restartPolicy": _RESTART[pod.restart_policy],
    }
    if init_containers:
        properties["initContainers"] = init_containers
    if volumes:
        properties["volumes"] = volumes
    credentials = [_registry_credential(c, i) for i, c in enumerate(pod.image_pull_credentials)]
    if credentials:
        properties["imageRegistryCredentials"] = credentials
    ports = _group_ports(pod)
    if config.subnet_id:
        properties["subnetIds"] = [{"id": config.subnet_id}]
    if ports:
        properties["ipAddress"] = {"type": "Private" if config.subnet_id else "Public", "ports": ports}
    dns = _dns(pod, config)
    if dns is not None:
        properties["dnsConfig"] = dns
    if config.log_analytics_workspace_id:
        properties["diagnostics"] = {
            "logAnalytics": {
                "workspaceId": config.log_analytics_workspace_id,
                "workspaceKey": config.log_analytics_key,
            }
        }
    return {
        "location": config.region,
        "tags": tags(pod, node_name=node_name, extra=config.tags),
        "properties": properties,
    }


# -- pod-level checks -------------------------------------------------------------------------------------------------


def _check_pod(pod: pod_pb2.Pod) -> None:
    if pod.restart_policy not in _RESTART:
        raise _refuse("spec.restartPolicy", f"unknown restart policy value {pod.restart_policy} (a newer protocol?)")
    if pod.host_network:
        raise _refuse("spec.hostNetwork", f"host networking is not supported by {BACKEND}")
    if pod.runtime_class_name:
        raise _refuse("spec.runtimeClassName", f"runtime class {pod.runtime_class_name!r} is unknown to {BACKEND}")
    if pod.host_aliases:
        raise _refuse("spec.hostAliases", f"{BACKEND} cannot add /etc/hosts entries")
    if pod.security_context.supplemental_groups:
        raise _refuse("spec.securityContext.supplementalGroups", f"not supported by {BACKEND}")


def _dns(pod: pod_pb2.Pod, config: AciConfig) -> dict[str, Any] | None:
    """Resolvers: ``--dns-nameservers`` wins, else the pod's DNS config; only in a VNet (ACI refuses it outside)."""
    if not config.subnet_id:
        return None
    nameservers = list(config.dns_nameservers) or list(pod.dns_config.nameservers)
    if not nameservers:
        return None
    dns: dict[str, Any] = {"nameServers": nameservers}
    if pod.dns_config.searches:
        dns["searchDomains"] = " ".join(pod.dns_config.searches)
    options = [o.name + (f":{o.value}" if o.HasField("value") else "") for o in pod.dns_config.options]
    if options:
        dns["options"] = " ".join(options)
    return dns


def _group_ports(pod: pod_pb2.Pod) -> list[dict[str, Any]]:
    seen: dict[tuple[int, str], dict[str, Any]] = {}
    for container in pod.containers:
        for port in container.ports:
            protocol = _PROTOCOL.get(port.protocol, "TCP")
            seen.setdefault((port.container_port, protocol), {"port": port.container_port, "protocol": protocol})
    return list(seen.values())


# -- containers -------------------------------------------------------------------------------------------------------


def _command(container: container_pb2.Container, path: str) -> list[str] | None:
    if container.runtime_expansion:
        raise _refuse(
            f"{path}.command",
            f"$(VAR) references to status.podIP/hostIP are known only once {BACKEND} assigned the IP; not supported",
        )
    if container.command:
        return [*container.command, *container.args]
    if container.args:
        raise _refuse(
            f"{path}.args",
            f"{BACKEND} can only replace the whole command line (the image's entrypoint included); "
            "set command too (the image's entrypoint followed by these args)",
        )
    return None


def _env(container: container_pb2.Container, path: str) -> list[dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for index, var in enumerate(container.env):
        if var.WhichOneof("source") == "runtime_value":
            raise _refuse(
                f"{path}.env[{index}]",
                f"{var.name} comes from the pod's IP, which {BACKEND} assigns only after the containers start",
            )
        merged[var.name] = {"name": var.name, "secureValue" if var.sensitive else "value": var.value}
    return list(merged.values())


def _common(container: container_pb2.Container, path: str, volume_names: set[str]) -> dict[str, Any]:
    if container.image_pull_policy not in (
        container_pb2.IMAGE_PULL_POLICY_UNSPECIFIED,
        container_pb2.IMAGE_PULL_POLICY_ALWAYS,
        container_pb2.IMAGE_PULL_POLICY_IF_NOT_PRESENT,
    ):
        raise _refuse(f"{path}.imagePullPolicy", f"{BACKEND} has no image cache to run an image without pulling it")
    if not container.image:
        raise _refuse(f"{path}.image", "an image is required")
    if container.working_dir:
        raise _refuse(f"{path}.workingDir", f"{BACKEND} cannot set the working directory")
    if container.HasField("lifecycle") and (
        container.lifecycle.HasField("post_start") or container.lifecycle.HasField("pre_stop")
    ):
        raise _refuse(f"{path}.lifecycle", f"postStart and preStop hooks are not supported by {BACKEND}")
    properties: dict[str, Any] = {"image": container.image}
    command = _command(container, path)
    if command is not None:
        properties["command"] = command
    env = _env(container, path)
    if env:
        properties["environmentVariables"] = env
    mounts = []
    for index, mount in enumerate(container.volume_mounts):
        field = f"{path}.volumeMounts[{index}]"
        if mount.name not in volume_names:
            raise _refuse(f"{field}.name", f"no volume named {mount.name!r}")
        if mount.sub_path:
            raise _refuse(f"{field}.subPath", f"{BACKEND} mounts whole volumes only")
        if ":" in mount.mount_path:
            raise _refuse(f"{field}.mountPath", f"{BACKEND} does not allow ':' in mount paths")
        entry: dict[str, Any] = {"name": mount.name, "mountPath": mount.mount_path}
        if mount.read_only:
            entry["readOnly"] = True
        mounts.append(entry)
    if mounts:
        properties["volumeMounts"] = mounts
    security = _security(container, path)
    if security:
        properties["securityContext"] = security
    return properties


def _security(container: container_pb2.Container, path: str) -> dict[str, Any]:
    if not container.HasField("security_context"):
        return {}
    context = container.security_context
    field = f"{path}.securityContext"
    if context.run_as_non_root:
        raise _refuse(f"{field}.runAsNonRoot", f"{BACKEND} cannot check the image's user; set runAsUser instead")
    if context.read_only_root_filesystem:
        raise _refuse(f"{field}.readOnlyRootFilesystem", f"not supported by {BACKEND}")
    result: dict[str, Any] = {}
    if context.HasField("privileged"):
        result["privileged"] = context.privileged
    if context.HasField("allow_privilege_escalation"):
        result["allowPrivilegeEscalation"] = context.allow_privilege_escalation
    if context.HasField("run_as_user"):
        result["runAsUser"] = context.run_as_user
    if context.HasField("run_as_group"):
        result["runAsGroup"] = context.run_as_group
    if context.HasField("capabilities") and (context.capabilities.add or context.capabilities.drop):
        result["capabilities"] = {"add": list(context.capabilities.add), "drop": list(context.capabilities.drop)}
    return result


def _container(
    container: container_pb2.Container, path: str, config: AciConfig, volume_names: set[str]
) -> dict[str, Any]:
    properties = _common(container, path, volume_names)
    ports = []
    for index, port in enumerate(container.ports):
        if port.protocol not in _PROTOCOL:
            raise _refuse(f"{path}.ports[{index}].protocol", f"{BACKEND} supports TCP and UDP ports only")
        ports.append({"port": port.container_port, "protocol": _PROTOCOL[port.protocol]})
    if ports:
        properties["ports"] = ports
    properties["resources"] = _resources(container, path, config)
    if container.HasField("startup_probe"):
        raise _refuse(f"{path}.startupProbe", f"{BACKEND} has no startup probes")
    if container.HasField("liveness_probe"):
        properties["livenessProbe"] = _probe(container.liveness_probe, f"{path}.livenessProbe")
    if container.HasField("readiness_probe"):
        properties["readinessProbe"] = _probe(container.readiness_probe, f"{path}.readinessProbe")
    return {"name": container.name, "properties": properties}


def _init_container(container: container_pb2.Container, path: str, volume_names: set[str]) -> dict[str, Any]:
    if container.restart_policy == container_pb2.CONTAINER_RESTART_POLICY_ALWAYS:
        raise _refuse(f"{path}.restartPolicy", f"sidecar init containers are not supported by {BACKEND}")
    probes = {
        "livenessProbe": container.HasField("liveness_probe"),
        "readinessProbe": container.HasField("readiness_probe"),
        "startupProbe": container.HasField("startup_probe"),
    }
    for name, present in probes.items():
        if present:
            raise _refuse(f"{path}.{name}", f"{BACKEND} runs no probes for init containers")
    if container.ports:
        raise _refuse(f"{path}.ports", f"{BACKEND} init containers cannot expose ports")
    return {"name": container.name, "properties": _common(container, path, volume_names)}


def _resources(container: container_pb2.Container, path: str, config: AciConfig) -> dict[str, Any]:
    requests, limits = container.resources.requests, container.resources.limits

    def cores(amounts: container_pb2.ResourceList) -> float | None:
        return math.ceil(amounts.cpu_millicores / 10) / 100 if amounts.HasField("cpu_millicores") else None

    def gib(amounts: container_pb2.ResourceList) -> float | None:
        if not amounts.HasField("memory_bytes"):
            return None
        return math.ceil(amounts.memory_bytes / 2**30 * 10) / 10

    def gpu(amounts: container_pb2.ResourceList, field: str) -> dict[str, Any] | None:
        text = amounts.extended.get(GPU_RESOURCE)
        if text is None:
            return None
        if not text.isdigit() or int(text) < 1:
            raise _refuse(f"{path}.resources.{field}[{GPU_RESOURCE}]", f"{text!r} is not a whole number of GPUs")
        if not config.gpu_sku:
            raise _refuse(
                f"{path}.resources.{field}[{GPU_RESOURCE}]", "this node has no GPU SKU configured (--gpu-sku)"
            )
        return {"count": int(text), "sku": config.gpu_sku}

    for field, amounts in (("requests", requests), ("limits", limits)):
        for name in amounts.extended:
            if name != GPU_RESOURCE:
                raise _refuse(f"{path}.resources.{field}[{name}]", f"{BACKEND} offers no resource {name!r}")
    cpu = cores(requests) or cores(limits) or DEFAULT_CPU
    memory = gib(requests) or gib(limits) or DEFAULT_MEMORY_GB
    result: dict[str, Any] = {"requests": {"cpu": cpu, "memoryInGB": memory}}
    gpus = gpu(requests, "requests") or gpu(limits, "limits")
    if gpus is not None:
        result["requests"]["gpu"] = gpus
    limit: dict[str, Any] = {}
    if cores(limits) is not None:
        limit["cpu"] = cores(limits)
    if gib(limits) is not None:
        limit["memoryInGB"] = gib(limits)
    limit_gpu = gpu(limits, "limits")
    if limit_gpu is not None:
        limit["gpu"] = limit_gpu
    if limit:
        result["limits"] = limit
    return result


def _probe(probe: container_pb2.Probe, path: str) -> dict[str, Any]:
    kind = probe.WhichOneof("handler")
    result: dict[str, Any]
    if kind == "exec":
        result = {"exec": {"command": list(probe.exec.command)}}
    elif kind == "http_get":
        action = probe.http_get
        if action.host:
            raise _refuse(f"{path}.httpGet.host", f"{BACKEND} probes the container itself only")
        http: dict[str, Any] = {"port": action.port, "path": action.path or "/"}
        http["scheme"] = "https" if action.scheme == container_pb2.URI_SCHEME_HTTPS else "http"
        if action.headers:
            http["httpHeaders"] = [{"name": h.name, "value": h.value} for h in action.headers]
        result = {"httpGet": http}
    elif kind == "tcp_socket":
        raise _refuse(f"{path}.tcpSocket", f"{BACKEND} runs exec and httpGet probes only, not tcpSocket")
    elif kind == "grpc":
        raise _refuse(f"{path}.grpc", f"{BACKEND} runs exec and httpGet probes only, not gRPC")
    else:
        raise _refuse(path, "a probe without a handler (a handler from a newer protocol?)")
    for key, attribute in (
        ("initialDelaySeconds", "initial_delay_seconds"),
        ("timeoutSeconds", "timeout_seconds"),
        ("periodSeconds", "period_seconds"),
        ("successThreshold", "success_threshold"),
        ("failureThreshold", "failure_threshold"),
    ):
        value = getattr(probe, attribute)
        if value:
            result[key] = value
    return result


# -- volumes and credentials ------------------------------------------------------------------------------------------


def _volume(volume: volume_pb2.Volume, index: int) -> dict[str, Any]:
    path = f"spec.volumes[{index}]"
    kind = volume.WhichOneof("source")
    if kind == "empty_dir":
        return {"name": volume.name, "emptyDir": {}}
    if kind == "files":
        files: dict[str, str] = {}
        for number, item in enumerate(volume.files.files):
            if "/" in item.path.strip("/"):
                raise _refuse(
                    f"{path}.items[{number}].path", f"{BACKEND} secret volumes hold no sub-directories ({item.path!r})"
                )
            files[item.path.strip("/")] = base64.b64encode(item.content).decode("ascii")
        if not files:
            return {"name": volume.name, "emptyDir": {}}
        return {"name": volume.name, "secret": files}
    if kind == "azure_file":
        share = volume.azure_file
        return {
            "name": volume.name,
            "azureFile": {
                "shareName": share.share_name,
                "storageAccountName": share.account_name,
                "storageAccountKey": share.account_key,
                "readOnly": share.read_only,
            },
        }
    if kind == "persistent_volume_claim":
        raise _refuse(f"{path}.persistentVolumeClaim", f"persistent volume claims are not supported by {BACKEND}")
    if kind == "unsupported":
        what = volume.unsupported.kind or "this volume type"
        raise _refuse(f"{path}.{what}", f"{what} volumes are not supported by {BACKEND}")
    raise _refuse(path, "a volume without a known source (a source from a newer protocol?)")


def _registry_credential(credential: pod_pb2.ImagePullCredential, index: int) -> dict[str, str]:
    field = f"spec.imagePullSecrets[{index}]"
    server = credential.server.removeprefix("https://").removeprefix("http://").rstrip("/")
    if not server:
        raise _refuse(field, "the registry credential names no server")
    if credential.username or credential.password:
        return {"server": server, "username": credential.username, "password": credential.password}
    if credential.auth:
        try:
            user, sep, password = base64.b64decode(credential.auth, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            sep = ""
        if not sep:
            raise _refuse(field, "the registry credential's auth is not base64 of user:password") from None
        return {"server": server, "username": user, "password": password}
    if credential.identity_token:
        return {"server": server, "username": ACR_TOKEN_USER, "password": credential.identity_token}
    raise _refuse(field, f"{BACKEND} accepts user/password or identity-token registry credentials only")


__all__ = [
    "TAG_NAME",
    "TAG_NAMESPACE",
    "TAG_NODE",
    "TAG_REVISION",
    "TAG_UID",
    "container_group",
    "group_name",
    "tags",
]

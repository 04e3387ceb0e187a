"""A Kubernetes pod (the API's JSON) as the protocol's ``Pod``: one pure function, no I/O.

The provider receives the pod fully resolved and defaulted (see ``pod.proto``), so this is where the kubelet's
work before a container starts happens: env vars built and ``$(VAR)`` expanded, named ports looked up,
quantities turned into millicores and bytes, Kubernetes defaults applied (for pods that skipped the API server's
defaulting, such as those built in tests), pod-level security settings merged into each container, DNS
configuration, hostname and FQDN computed.

What the pod only references (configMaps, secrets, service env, registry credentials, the cluster DNS) comes in a
``ResolvedPod``. What is missing there and cannot be read from the pod raises ``UnresolvedReference``; a pod the
protocol cannot express raises ``InvalidPodSpec``. Volume types the protocol does not model are not an error
here: they go as ``unsupported`` and the provider refuses them (or not) itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, volume_pb2
from vk_controller.pods import quantity
from vk_controller.pods.expansion import ContainerEnvironment, ContainerEnvVar, Expanded, variables
from vk_controller.pods.fieldrefs import pod_env_var
from vk_controller.pods.resolved import (
    ClusterDNS,
    InvalidPodSpec,
    ResolvedEnvVar,
    ResolvedPod,
    RuntimeValue,
    UnresolvedReference,
)

Json = dict[str, Any]
_Enum = TypeVar("_Enum")

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"

_RESTART_POLICIES = {
    "Always": pod_pb2.RESTART_POLICY_ALWAYS,
    "OnFailure": pod_pb2.RESTART_POLICY_ON_FAILURE,
    "Never": pod_pb2.RESTART_POLICY_NEVER,
}
_DNS_POLICIES = {
    "ClusterFirst": pod_pb2.DNS_POLICY_CLUSTER_FIRST,
    "ClusterFirstWithHostNet": pod_pb2.DNS_POLICY_CLUSTER_FIRST_WITH_HOST_NET,
    "Default": pod_pb2.DNS_POLICY_DEFAULT,
    "None": pod_pb2.DNS_POLICY_NONE,
}
_PULL_POLICIES = {
    "Always": container_pb2.IMAGE_PULL_POLICY_ALWAYS,
    "IfNotPresent": container_pb2.IMAGE_PULL_POLICY_IF_NOT_PRESENT,
    "Never": container_pb2.IMAGE_PULL_POLICY_NEVER,
}
_PROTOCOLS = {
    "TCP": container_pb2.PORT_PROTOCOL_TCP,
    "UDP": container_pb2.PORT_PROTOCOL_UDP,
    "SCTP": container_pb2.PORT_PROTOCOL_SCTP,
}
_SCHEMES = {"HTTP": container_pb2.URI_SCHEME_HTTP, "HTTPS": container_pb2.URI_SCHEME_HTTPS}
_MESSAGE_POLICIES = {
    "File": container_pb2.TERMINATION_MESSAGE_POLICY_FILE,
    "FallbackToLogsOnError": container_pb2.TERMINATION_MESSAGE_POLICY_FALLBACK_TO_LOGS_ON_ERROR,
}
_RUNTIME_VALUES = {
    RuntimeValue.POD_IP: container_pb2.RUNTIME_VALUE_POD_IP,
    RuntimeValue.POD_IPS: container_pb2.RUNTIME_VALUE_POD_IPS,
    RuntimeValue.HOST_IP: container_pb2.RUNTIME_VALUE_HOST_IP,
    RuntimeValue.HOST_IPS: container_pb2.RUNTIME_VALUE_HOST_IPS,
}
_MEDIA = {"": volume_pb2.STORAGE_MEDIUM_DISK, "Memory": volume_pb2.STORAGE_MEDIUM_MEMORY}
_FILES_SOURCES = {
    "configMap": volume_pb2.FILES_SOURCE_CONFIG_MAP,
    "secret": volume_pb2.FILES_SOURCE_SECRET,
    "downwardAPI": volume_pb2.FILES_SOURCE_DOWNWARD_API,
    "projected": volume_pb2.FILES_SOURCE_PROJECTED,
}
_INT64 = range(-(2**63), 2**63)
# The kubelet's limits on resolv.conf (pkg/apis/core/validation: MaxDNSNameservers, MaxDNSSearchPaths, ...).
_MAX_NAMESERVERS, _MAX_SEARCHES, _MAX_SEARCH_LINE = 3, 32, 2048


def _choice(table: Mapping[str, _Enum], value: str, field: str) -> _Enum:
    if value not in table:
        raise InvalidPodSpec(field, f"{value!r} is not one of {', '.join(table)}")
    return table[value]


def to_provider_pod(
    pod: Json, *, revision: str, resolved: ResolvedPod | None = None, include_json: bool = False
) -> pod_pb2.Pod:
    """The pod as the provider receives it in CreatePod and UpdatePod.

    ``revision`` goes into ``Pod.revision``; ``include_json`` adds the pod's JSON (without status and managed
    fields) for providers that asked for it.
    """
    resolved = ResolvedPod() if resolved is None else resolved
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    hostname = _hostname(metadata, spec)
    subdomain = spec.get("subdomain") or ""
    domain = resolved.cluster_dns.domain if resolved.cluster_dns else ""
    return pod_pb2.Pod(
        metadata=_metadata(metadata),
        revision=revision,
        init_containers=[
            _container(pod, container, f"spec.initContainers[{index}]", resolved, init=True)
            for index, container in enumerate(spec.get("initContainers") or [])
        ],
        containers=[
            _container(pod, container, f"spec.containers[{index}]", resolved, init=False)
            for index, container in enumerate(spec.get("containers") or [])
        ],
        volumes=[
            _volume(volume, f"spec.volumes[{index}]", resolved)
            for index, volume in enumerate(spec.get("volumes") or [])
        ],
        restart_policy=_choice(_RESTART_POLICIES, spec.get("restartPolicy") or "Always", "spec.restartPolicy"),
        termination_grace_period_seconds=spec.get(
            "terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
        ),
        active_deadline_seconds=spec.get("activeDeadlineSeconds"),
        dns_policy=_choice(_DNS_POLICIES, spec.get("dnsPolicy") or "ClusterFirst", "spec.dnsPolicy"),
        dns_config=_dns_config(spec, metadata.get("namespace") or "", resolved.cluster_dns),
        host_aliases=[
            pod_pb2.HostAlias(ip=alias.get("ip", ""), hostnames=alias.get("hostnames") or [])
            for alias in spec.get("hostAliases") or []
        ],
        hostname=hostname,
        subdomain=subdomain,
        fqdn=f"{hostname}.{subdomain}.{metadata.get('namespace')}.svc.{domain}" if subdomain and domain else "",
        set_hostname_as_fqdn=bool(spec.get("setHostnameAsFQDN")),
        service_account_name=spec.get("serviceAccountName") or spec.get("serviceAccount") or "",
        node_name=spec.get("nodeName") or "",
        priority=spec.get("priority"),
        priority_class_name=spec.get("priorityClassName") or "",
        image_pull_credentials=_pull_credentials(spec, resolved),
        security_context=_pod_security_context(spec.get("securityContext") or {}),
        host_network=bool(spec.get("hostNetwork")),
        runtime_class_name=spec.get("runtimeClassName") or "",
        kubernetes_pod_json=_pod_json(pod) if include_json else "",
    )


def _metadata(metadata: Json) -> pod_pb2.PodMetadata:
    created = None
    if metadata.get("creationTimestamp"):
        created = timestamp_pb2.Timestamp()
        try:
            created.FromJsonString(metadata["creationTimestamp"])
        except ValueError as error:
            raise InvalidPodSpec("metadata.creationTimestamp", str(error)) from error
    return pod_pb2.PodMetadata(
        uid=metadata.get("uid", ""),
        namespace=metadata.get("namespace", ""),
        name=metadata.get("name", ""),
        labels=metadata.get("labels") or {},
        annotations=metadata.get("annotations") or {},
        creation_time=created,
    )


def _pod_json(pod: Json) -> str:
    """The object as stored, without status and managedFields (no secret values: pods only reference secrets)."""
    stored = {key: value for key, value in pod.items() if key != "status"}
    if "metadata" in stored:
        stored["metadata"] = {key: value for key, value in stored["metadata"].items() if key != "managedFields"}
    return json.dumps(stored, separators=(",", ":"), ensure_ascii=False)


def _hostname(metadata: Json, spec: Json) -> str:
    """spec.hostname, else the pod name cut to a DNS label (63 characters, no trailing "-" or ".")."""
    if spec.get("hostname"):
        return str(spec["hostname"])
    return str(metadata.get("name") or "")[:63].rstrip("-.")


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _dns_config(spec: Json, namespace: str, cluster: ClusterDNS | None) -> pod_pb2.DNSConfig | None:
    """The kubelet's GetPodDNS, where the node's own resolver is the backend's default (then unset)."""
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and not (cluster and cluster.nameservers):
        policy = "Default"  # as the kubelet does when it has no cluster DNS
    pod_dns = spec.get("dnsConfig")
    if policy == "Default" and pod_dns is None:
        return None
    nameservers: list[str] = []
    searches: list[str] = []
    options: dict[str, str | None] = {}
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and cluster:
        nameservers = list(cluster.nameservers)
        if cluster.domain:
            searches = [f"{namespace}.svc.{cluster.domain}", f"svc.{cluster.domain}", cluster.domain]
        options["ndots"] = "5"
    pod_dns = pod_dns or {}
    nameservers = _unique([*nameservers, *(pod_dns.get("nameservers") or [])])[:_MAX_NAMESERVERS]
    searches = _unique([*searches, *(pod_dns.get("searches") or [])])[:_MAX_SEARCHES]
    while len(" ".join(searches)) > _MAX_SEARCH_LINE:
        searches.pop()
    for option in pod_dns.get("options") or []:
        options[option.get("name", "")] = option.get("value") or None
    return pod_pb2.DNSConfig(
        nameservers=nameservers,
        searches=searches,
        options=[pod_pb2.DNSConfigOption(name=name, value=value) for name, value in options.items()],
    )


def _pull_credentials(spec: Json, resolved: ResolvedPod) -> list[pod_pb2.ImagePullCredential]:
    if resolved.pull_credentials is None:
        if spec.get("imagePullSecrets"):
            raise UnresolvedReference("spec.imagePullSecrets", "the registry credentials are not resolved")
        return []
    return [
        pod_pb2.ImagePullCredential(
            server=credential.server,
            username=credential.username,
            password=credential.password,
            auth=credential.auth,
            identity_token=credential.identity_token,
            registry_token=credential.registry_token,
        )
        for credential in resolved.pull_credentials
    ]


def _pod_security_context(context: Json) -> pod_pb2.PodSecurityContext | None:
    if context.get("fsGroup") is None and not context.get("supplementalGroups"):
        return None
    return pod_pb2.PodSecurityContext(
        fs_group=context.get("fsGroup"), supplemental_groups=context.get("supplementalGroups") or []
    )


# Containers


def _container(pod: Json, container: Json, where: str, resolved: ResolvedPod, *, init: bool) -> container_pb2.Container:
    environment = ContainerEnvironment(_env_entries(pod, container, where, resolved), resolved.service_env)
    command = [environment.expand(text) for text in container.get("command") or []]
    args = [environment.expand(text) for text in container.get("args") or []]
    expanded: list[tuple[str, Expanded]] = [
        *((f"{where}.command[{index}]", value) for index, value in enumerate(command)),
        *((f"{where}.args[{index}]", value) for index, value in enumerate(args)),
        *((f"{where}.env[{var.name!r}]", var.value) for var in environment.vars),
    ]
    for field, value in expanded:
        for reference in value.references:
            if not environment.is_current(reference):
                raise InvalidPodSpec(
                    field,
                    f"refers to $({reference.name}) ({reference.value.value}), which a later env var of the same "
                    "name replaces; the protocol cannot express that",
                )
    runtime = any(value.references for _, value in expanded)
    sidecar = init and container.get("restartPolicy") == "Always"
    lifecycle = container.get("lifecycle") or {}
    return container_pb2.Container(
        name=container["name"],
        image=container.get("image", ""),
        image_pull_policy=_pull_policy(container, where),
        command=[value.text(runtime_expansion=runtime) for value in command],
        args=[value.text(runtime_expansion=runtime) for value in args],
        working_dir=container.get("workingDir") or "",
        env=[_env_var(var, runtime_expansion=runtime) for var in environment.vars],
        runtime_expansion=runtime,
        ports=[
            container_pb2.ContainerPort(
                name=port.get("name", ""),
                container_port=port.get("containerPort", 0),
                protocol=_choice(_PROTOCOLS, port.get("protocol") or "TCP", f"{where}.ports[{index}].protocol"),
            )
            for index, port in enumerate(container.get("ports") or [])
        ],
        resources=_resources(container.get("resources") or {}, f"{where}.resources"),
        volume_mounts=[
            _volume_mount(mount, environment, f"{where}.volumeMounts[{index}]")
            for index, mount in enumerate(container.get("volumeMounts") or [])
        ],
        liveness_probe=_probe(container, "livenessProbe", where),
        readiness_probe=_probe(container, "readinessProbe", where),
        startup_probe=_probe(container, "startupProbe", where),
        lifecycle=container_pb2.Lifecycle(
            post_start=_lifecycle_handler(container, lifecycle.get("postStart"), f"{where}.lifecycle.postStart"),
            pre_stop=_lifecycle_handler(container, lifecycle.get("preStop"), f"{where}.lifecycle.preStop"),
        )
        if lifecycle.get("postStart") or lifecycle.get("preStop")
        else None,
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        termination_message_path=container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH,
        termination_message_policy=_choice(
            _MESSAGE_POLICIES,
            container.get("terminationMessagePolicy") or "File",
            f"{where}.terminationMessagePolicy",
        ),
        security_context=_security_context(
            (pod.get("spec") or {}).get("securityContext") or {}, container.get("securityContext") or {}
        ),
        restart_policy=(
            container_pb2.CONTAINER_RESTART_POLICY_ALWAYS
            if sidecar
            else container_pb2.CONTAINER_RESTART_POLICY_UNSPECIFIED
        ),
    )


def _env_entries(pod: Json, container: Json, where: str, resolved: ResolvedPod) -> list[ResolvedEnvVar]:
    """The resolved environment of the container, else what the pod alone tells."""
    if container["name"] in resolved.env:
        return list(resolved.env[container["name"]])
    if container.get("envFrom"):
        raise UnresolvedReference(f"{where}.envFrom", "needs configMaps or secrets from the API server")
    return [
        pod_env_var(pod, container, index, where=where, allocatable=resolved.node_allocatable)
        for index in range(len(container.get("env") or []))
    ]


def _env_var(var: ContainerEnvVar, *, runtime_expansion: bool) -> container_pb2.EnvVar:
    if var.runtime is not None:
        return container_pb2.EnvVar(name=var.name, runtime_value=_RUNTIME_VALUES[var.runtime], sensitive=var.sensitive)
    return container_pb2.EnvVar(
        name=var.name, value=var.value.text(runtime_expansion=runtime_expansion), sensitive=var.sensitive
    )


def _pull_policy(container: Json, where: str) -> container_pb2.ImagePullPolicy.ValueType:
    """As written, else the API's default: Always for the tag "latest" (or no tag nor digest), else IfNotPresent."""
    if container.get("imagePullPolicy"):
        return _choice(_PULL_POLICIES, container["imagePullPolicy"], f"{where}.imagePullPolicy")
    image = container.get("image", "")
    reference, _, digest = image.partition("@")
    last = reference.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ("" if digest else "latest")
    return container_pb2.IMAGE_PULL_POLICY_ALWAYS if tag == "latest" else container_pb2.IMAGE_PULL_POLICY_IF_NOT_PRESENT


def _int64(number: int, field: str) -> int:
    if number not in _INT64:
        raise InvalidPodSpec(field, "does not fit in 64 bits")
    return number


def _resource_list(amounts: Json, field: str) -> container_pb2.ResourceList:
    message = container_pb2.ResourceList()
    for name, amount in amounts.items():
        try:
            if name == "cpu":
                message.cpu_millicores = _int64(quantity.milli_value(amount), f"{field}.cpu")
            elif name == "memory":
                message.memory_bytes = _int64(quantity.value(amount), f"{field}.memory")
            elif name == "ephemeral-storage":
                message.ephemeral_storage_bytes = _int64(quantity.value(amount), f"{field}.ephemeral-storage")
            else:
                message.extended[name] = str(amount)
        except quantity.InvalidQuantity as error:
            raise InvalidPodSpec(f"{field}.{name}", str(error)) from error
    return message


def _resources(resources: Json, field: str) -> container_pb2.ResourceRequirements:
    limits = resources.get("limits") or {}
    requests = {**limits, **(resources.get("requests") or {})}  # a limit without a request is also the request
    limits_message = _resource_list(limits, f"{field}.limits")  # first, so that a bad limit is named as one
    return container_pb2.ResourceRequirements(
        requests=_resource_list(requests, f"{field}.requests"), limits=limits_message
    )


def _volume_mount(mount: Json, environment: ContainerEnvironment, field: str) -> container_pb2.VolumeMount:
    sub_path = mount.get("subPath") or ""
    if mount.get("subPathExpr"):
        sub_path = _sub_path_expr(mount["subPathExpr"], environment, f"{field}.subPathExpr")
    return container_pb2.VolumeMount(
        name=mount.get("name", ""),
        mount_path=mount.get("mountPath", ""),
        sub_path=sub_path,
        read_only=bool(mount.get("readOnly")),
    )


def _sub_path_expr(expression: str, environment: ContainerEnvironment, field: str) -> str:
    """subPathExpr expanded as the kubelet does: every variable must be defined and not empty."""
    missing, runtime = [], []
    for name in _unique(variables(expression)):
        value = environment.value(name)
        if value is None or not value.parts:
            missing.append(name)
        elif value.references:
            runtime.append(name)
    if missing:
        raise InvalidPodSpec(field, f"missing value for {', '.join(sorted(missing))}")
    if runtime:
        raise InvalidPodSpec(field, f"{', '.join(runtime)} known only when the pod runs; a sub path cannot wait")
    path = environment.expand(expression).text(runtime_expansion=False)
    if path.startswith("/") or ".." in path.split("/"):
        raise InvalidPodSpec(field, f"{path!r} must be a relative path without '..'")
    return path


def _port_number(port: int | str | None, container: Json, field: str) -> int:
    """A port number, or the number of the container port with that name (as the kubelet resolves probe ports)."""
    number = port if isinstance(port, int) else None
    if isinstance(port, str):
        named = [p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port]
        number = named[0] if named else int(port) if port.isdigit() else None
    if number is None or not 0 < number < 65536:
        raise InvalidPodSpec(field, f"{port!r} is neither a port number nor the name of a port of the container")
    return number


def _handler(handler: Json, kinds: tuple[str, ...], container: Json, field: str) -> dict[str, Any]:
    """The one action of a probe or lifecycle hook, as keyword arguments for its message."""
    present = [kind for kind in kinds if handler.get(kind) is not None]
    if not present:
        raise InvalidPodSpec(field, f"needs one of {', '.join(kinds)}; none that the protocol models is set")
    kind = present[0]
    action = handler[kind]
    if kind == "exec":
        return {"exec": container_pb2.ExecAction(command=action.get("command") or [])}
    if kind == "httpGet":
        return {
            "http_get": container_pb2.HTTPGetAction(
                path=action.get("path") or "/",
                port=_port_number(action.get("port"), container, f"{field}.httpGet.port"),
                host=action.get("host") or "",
                scheme=_choice(_SCHEMES, action.get("scheme") or "HTTP", f"{field}.httpGet.scheme"),
                headers=[
                    container_pb2.HTTPHeader(name=header.get("name", ""), value=header.get("value", ""))
                    for header in action.get("httpHeaders") or []
                ],
            )
        }
    if kind == "tcpSocket":
        return {
            "tcp_socket": container_pb2.TCPSocketAction(
                port=_port_number(action.get("port"), container, f"{field}.tcpSocket.port"),
                host=action.get("host") or "",
            )
        }
    if kind == "grpc":
        port = _port_number(action.get("port"), container, f"{field}.grpc.port")
        return {"grpc": container_pb2.GRPCAction(port=port, service=action.get("service") or "")}
    return {"sleep": container_pb2.SleepAction(seconds=action.get("seconds", 0))}


def _probe(container: Json, kind: str, where: str) -> container_pb2.Probe | None:
    """A probe with the API's default timings (timeout 1, period 10, success 1, failure 3)."""
    probe = container.get(kind)
    if not probe:
        return None
    return container_pb2.Probe(
        **_handler(probe, ("exec", "httpGet", "tcpSocket", "grpc"), container, f"{where}.{kind}"),
        initial_delay_seconds=probe.get("initialDelaySeconds") or 0,
        timeout_seconds=probe.get("timeoutSeconds") or 1,
        period_seconds=probe.get("periodSeconds") or 10,
        success_threshold=probe.get("successThreshold") or 1,
        failure_threshold=probe.get("failureThreshold") or 3,
        termination_grace_period_seconds=probe.get("terminationGracePeriodSeconds"),
    )


def _lifecycle_handler(container: Json, hook: Json | None, field: str) -> container_pb2.LifecycleHandler | None:
    if not hook:
        return None
    return container_pb2.LifecycleHandler(**_handler(hook, ("exec", "httpGet", "tcpSocket", "sleep"), container, field))


def _capabilities(names: list[str]) -> list[str]:
    """Capability names without the "CAP_" prefix, which Kubernetes allows but the protocol does not carry."""
    return [name.upper().removeprefix("CAP_") for name in names]


def _security_context(pod_context: Json, context: Json) -> container_pb2.SecurityContext | None:
    """The container's settings merged over the pod's (the pod-level ones: user, group, non-root); None if empty."""

    def either(key: str) -> Any:
        return context[key] if context.get(key) is not None else pod_context.get(key)

    capabilities = context.get("capabilities") or {}
    message = container_pb2.SecurityContext(
        run_as_user=either("runAsUser"),
        run_as_group=either("runAsGroup"),
        run_as_non_root=either("runAsNonRoot"),
        read_only_root_filesystem=context.get("readOnlyRootFilesystem"),
        capabilities=container_pb2.LinuxCapabilities(
            add=_capabilities(capabilities.get("add") or []), drop=_capabilities(capabilities.get("drop") or [])
        )
        if capabilities.get("add") or capabilities.get("drop")
        else None,
        privileged=context.get("privileged"),
        allow_privilege_escalation=context.get("allowPrivilegeEscalation"),
    )
    return message if message.ListFields() else None


# Volumes


def _volume(volume: Json, field: str, resolved: ResolvedPod) -> volume_pb2.Volume:
    name = volume["name"]
    kinds = [key for key, value in volume.items() if key != "name" and value is not None]
    kind = kinds[0] if kinds else "emptyDir"  # the API's default source
    source = volume.get(kind) or {}
    if kind == "emptyDir":
        medium = _choice(_MEDIA, source.get("medium") or "", f"{field}.emptyDir.medium")
        size = None
        if source.get("sizeLimit") is not None:
            try:
                size = _int64(quantity.value(source["sizeLimit"]), f"{field}.emptyDir.sizeLimit")
            except quantity.InvalidQuantity as error:
                raise InvalidPodSpec(f"{field}.emptyDir.sizeLimit", str(error)) from error
        return volume_pb2.Volume(name=name, empty_dir=volume_pb2.EmptyDirVolume(medium=medium, size_limit_bytes=size))
    if kind in _FILES_SOURCES:
        return volume_pb2.Volume(name=name, files=_files(kind, source, resolved, name, field))
    if kind == "persistentVolumeClaim":
        claim = volume_pb2.PersistentVolumeClaimVolume(
            claim_name=source.get("claimName", ""), read_only=bool(source.get("readOnly"))
        )
        return volume_pb2.Volume(name=name, persistent_volume_claim=claim)
    if kind == "azureFile":
        credentials = resolved.azure_files.get(name)
        if credentials is None:
            raise UnresolvedReference(f"{field}.azureFile.secretName", "the storage account key is not resolved")
        share = volume_pb2.AzureFileVolume(
            share_name=source.get("shareName", ""),
            account_name=credentials.account_name,
            account_key=credentials.account_key,
            read_only=bool(source.get("readOnly")),
        )
        return volume_pb2.Volume(name=name, azure_file=share)
    return volume_pb2.Volume(name=name, unsupported=volume_pb2.UnsupportedVolume(kind=kind))


def _files(kind: str, source: Json, resolved: ResolvedPod, name: str, field: str) -> volume_pb2.FilesVolume:
    content = resolved.files.get(name)
    if content is None:
        raise UnresolvedReference(f"{field}.{kind}", "the volume's files are not resolved")
    secret = kind == "secret"  # every file of a secret volume is sensitive, whatever the resolver said
    files = []
    for file in content.files:
        if not file.path or file.path.startswith("/") or ".." in file.path.split("/"):
            raise InvalidPodSpec(f"{field}.{kind}", f"file path {file.path!r} is not relative to the volume")
        files.append(
            volume_pb2.VolumeFile(
                path=file.path, content=file.content, mode=file.mode, sensitive=file.sensitive or secret
            )
        )
    return volume_pb2.FilesVolume(
        source=_FILES_SOURCES[kind],
        source_name=source.get("name", "") if kind == "configMap" else source.get("secretName", "") if secret else "",
        files=files,
        sensitive=any(file.sensitive for file in files),
    )

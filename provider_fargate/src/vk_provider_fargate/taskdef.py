"""Pod → ECS task definition: one task definition per distinct pod spec, and every refusal, naming the field.

Design decisions (each documented for users in the refusal message it can cause):

- **Deduplicated by content.** The family is ``vk-<sha256 of the document and the node name>``; pods with the same
  spec share it (a Deployment's replicas register once) and the provider deregisters it when no task uses it. The
  document holds no secret value, only references to the pod's own secret (below), so the hash never depends on
  (nor leaks anything about) a secret value. The trade-off: those references name a per-pod secret, so a pod with
  any sensitive value (including the service-account token) gets a task definition of its own and registers it
  at create (one RegisterTaskDefinition per pod, deregistered when the pod is gone); pods without one still share.
  Sharing one definition across pods would need the values in a per-node or per-spec secret, which then could not
  be deleted with the pod, or a different token per task, which a task definition cannot express.
- **command → entryPoint, args → command**, as Docker's and ECS's terms differ from Kubernetes'.
- **Resources.** Each container gets ``cpu`` (units) from its CPU limit or request, ``memory`` (hard) from its
  memory limit and ``memoryReservation`` from its request (or limit, or 128 MiB when it states neither: ECS needs
  one). The task size is the smallest valid Fargate size covering the sum of every container's numbers
  (:mod:`sizing`), because ECS reserves container CPU and memory for every container, init ones included.
- **Init containers** become non-essential containers, each ``dependsOn`` the previous one ``SUCCESS``; regular
  containers depend on the last ``SUCCESS``. Sidecars (init containers with restartPolicy Always) start before the
  regular containers (``dependsOn`` ``START``) and are restarted by ECS.
- **Restart policy.** Never: no ECS restart; the task stops when an essential container exits, and the pod ends
  Succeeded or Failed. OnFailure: ECS restarts a container that exits non-zero (``restartPolicy`` with
  ``ignoredExitCodes: [0]``). Always: ECS restarts every exit. ECS does not report restart counts, so
  ``restartCount`` stays 0.
- **Liveness probe (exec)** → the container's ``healthCheck`` (timings clamped into ECS's ranges); ECS stops the task
  when an essential container becomes unhealthy. Other probe kinds, readiness and startup probes are refused: ECS
  has nothing that marks a running container unready without stopping it.
- **emptyDir** → a task volume (Fargate ephemeral storage); ``ephemeralStorage`` grows past the 20 GiB default to
  cover ``sizeLimit``\\s and ephemeral-storage requests.
- **configMap, downwardAPI, secret and projected volumes** (including ``kube-api-access``: token, ca.crt and
  namespace) are written by a helper init container (``vk-files``, ``--files-image``) into a task volume the
  containers mount read-only. Content travels base64-encoded in the helper's environment: plain files in the task
  definition (at most 32 KiB per pod; task definitions are at most 64 KiB), every file of a volume marked
  ``sensitive`` through the pod's secret (below).
- **Secrets** (``sensitive`` env values, files of sensitive volumes: secret volumes and service-account tokens)
  never enter the task definition, which anyone with ``ecs:DescribeTaskDefinition`` can read. They go into one
  AWS Secrets Manager secret per pod (:mod:`secretstore`, a JSON object of at most 64 KiB keyed ``v0``, ``v1``...)
  and the container definitions name them in ``secrets`` as ``<secret-arn>:<key>::``; ECS resolves them at task
  start with the task execution role. :func:`build` returns the values in :attr:`TaskDefinition.secrets`; the
  provider stores them and builds again with the secret's ARN.
- **Service-account token refresh.** ``UpdatePod`` is not declared and ``volume_updates`` is off, so the controller
  never sends a rotated token (it refreshes tokens through UpdatePod only for providers declaring volume_updates).
  The token written at task start is the one the controller requested at create with the projection's full
  ``expirationSeconds``; for ``kube-api-access`` (3607 s) an API server with its default
  ``--service-account-extend-token-expiration`` issues it valid for a year. A task that outlives its token has to
  be replaced by a new pod.
- **imagePullSecrets** → ``repositoryCredentials``, which ECS reads only from a Secrets Manager secret holding
  ``{"username": ..., "password": ...}``. Each container whose image's registry host matches a credential's server
  (scheme, path and trailing slash ignored; ``docker.io``, ``index.docker.io`` and ``registry-1.docker.io`` are one
  host, and an image without a registry host is on ``docker.io``) names the secret of that credential; the first
  matching credential wins. :func:`build` returns one value per distinct credential used in
  :attr:`TaskDefinition.registry_secrets` (``auth``-only credentials decoded from base64 ``user:password``); the
  provider stores each as ``<pod secret name>/registry-<n>`` and builds again with their ARNs. Identity and
  registry tokens are refused: ECS authenticates to private registries only with a user name and password. The
  annotation ``fargate.virtual-kubelet.io/repository-credentials`` naming a pre-made secret's ARN overrides all
  of this: every container uses that secret and none is created.
- **Ignored hints**: image pull policy (Fargate always pulls), priority, hostname/subdomain (Fargate sets its own),
  DNS configuration (tasks use the VPC resolver), fsGroup and supplemental groups.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, volume_pb2
from vk_provider_fargate import sizing
from vk_provider_fargate.config import FargateConfig
from vk_provider_fargate.secretstore import MAX_SECRET_BYTES
from vk_provider_fargate.secretstore import encode as secretstore_encode
from vk_provider_sdk import errors

FILES_CONTAINER = "vk-files"
REPOSITORY_CREDENTIALS_ANNOTATION = "fargate.virtual-kubelet.io/repository-credentials"
DEFAULT_CONTAINER_MEMORY_MIB = 128
FILES_HELPER_MEMORY_MIB = 32
MAX_FILES_BYTES = 32 * 1024
DEFAULT_EPHEMERAL_GIB = 20
MAX_EPHEMERAL_GIB = 200
_FILES_ROOT = "/vk-files"
#: The ARN :func:`build` writes into ``secrets`` references until the provider knows the pod's secret's ARN.
PENDING_SECRET_ARN = "arn:aws:secretsmanager:pending:000000000000:secret:pending"  # noqa: S105 - a placeholder
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
_POLICIES = {
    pod_pb2.RESTART_POLICY_UNSPECIFIED: "Always",
    pod_pb2.RESTART_POLICY_ALWAYS: "Always",
    pod_pb2.RESTART_POLICY_ON_FAILURE: "OnFailure",
    pod_pb2.RESTART_POLICY_NEVER: "Never",
}
_PROTOCOLS = {
    container_pb2.PORT_PROTOCOL_UNSPECIFIED: "tcp",
    container_pb2.PORT_PROTOCOL_TCP: "tcp",
    container_pb2.PORT_PROTOCOL_UDP: "udp",
}
_NOT_FARGATE = "not supported by AWS Fargate"


_DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True)
class TaskDefinition:
    """What to register: the family (the dedup key), the register_task_definition arguments and the task size."""

    family: str
    arguments: dict[str, Any]
    size: sizing.TaskSize
    #: Containers in the order the status reports them: (name, is_init) for the pod's own containers.
    containers: tuple[tuple[str, bool], ...]
    #: The pod's sensitive values by JSON key of its secret (env values as is, file contents base64-encoded);
    #: empty when it has none. Never log it.
    secrets: dict[str, str]
    #: The registry credentials the containers use, ``{"username": ..., "password": ...}`` each, the n-th to be
    #: stored as the pod's ``registry-<n>`` secret; empty when none is used (or the annotation overrides). Never log it.
    registry_secrets: tuple[dict[str, str], ...] = ()


class _Secrets:
    """Collects the pod's sensitive values, handing out ``secrets`` references to them."""

    def __init__(self, arn: str) -> None:
        self.arn = arn
        self.values: dict[str, str] = {}

    def reference(self, name: str, value: str) -> dict[str, str]:
        key = f"v{len(self.values)}"
        self.values[key] = value
        return {"name": name, "valueFrom": f"{self.arn}:{key}::"}


def restart_policy(pod: pod_pb2.Pod) -> str:
    """``Always``, ``OnFailure`` or ``Never``; InvalidPod for a value from a later protocol minor."""
    policy = _POLICIES.get(pod.restart_policy)
    if policy is None:
        raise errors.InvalidPod(
            f"spec.restartPolicy: value {pod.restart_policy} is unknown to this provider (from a newer protocol)"
        )
    return policy


def build(
    pod: pod_pb2.Pod,
    config: FargateConfig,
    *,
    node_name: str,
    secret_arn: str = PENDING_SECRET_ARN,
    registry_arns: Sequence[str] = (),
) -> TaskDefinition:
    """The task definition for ``pod``; InvalidPod naming the first field Fargate cannot honour.

    Sensitive values are referenced as keys of the secret ``secret_arn``; until the provider has stored
    :attr:`TaskDefinition.secrets` there, the references name :data:`PENDING_SECRET_ARN` and the result is only
    good for validation and for the values. Likewise ``registry_arns`` are the ARNs of the stored
    :attr:`TaskDefinition.registry_secrets`, in order (:data:`PENDING_SECRET_ARN` for any not given).
    """
    _check_pod(pod)
    secrets = _Secrets(secret_arn)
    policy = restart_policy(pod)
    registry = _Registry(pod, registry_arns)
    volumes, files_volumes, ephemeral_gib = _volumes(pod)
    grace = pod.termination_grace_period_seconds if pod.HasField("termination_grace_period_seconds") else 30
    stop_timeout = min(max(grace, 2), 120)
    definitions: list[dict[str, Any]] = []
    containers: list[tuple[str, bool]] = []
    previous: tuple[str, str] | None = None  # the container the next one waits for, and the condition
    if files_volumes:
        definitions.append(_files_helper(files_volumes, config, secrets))
        previous = (FILES_CONTAINER, "SUCCESS")
    names = {FILES_CONTAINER}
    sidecars: list[str] = []
    for index, container in enumerate(pod.init_containers):
        path = f"spec.initContainers[{index}]"
        sidecar = container.restart_policy == container_pb2.CONTAINER_RESTART_POLICY_ALWAYS
        if container.restart_policy not in (
            container_pb2.CONTAINER_RESTART_POLICY_UNSPECIFIED,
            container_pb2.CONTAINER_RESTART_POLICY_ALWAYS,
        ):
            raise errors.InvalidPod(f"{path}.restartPolicy: value {container.restart_policy} is unknown")
        credentials = registry.arn_for(container.image)
        definition = _container(path, container, pod, config, names, volumes, credentials, stop_timeout, secrets)
        definition["essential"] = False
        if previous is not None:
            definition["dependsOn"] = [{"containerName": previous[0], "condition": previous[1]}]
        if sidecar:
            definition["restartPolicy"] = {"enabled": True}
            sidecars.append(container.name)
            previous = (container.name, "START")
        else:
            previous = (container.name, "SUCCESS")
        definitions.append(definition)
        containers.append((container.name, True))
    for index, container in enumerate(pod.containers):
        path = f"spec.containers[{index}]"
        credentials = registry.arn_for(container.image)
        definition = _container(path, container, pod, config, names, volumes, credentials, stop_timeout, secrets)
        definition["essential"] = True
        waits = [{"containerName": name, "condition": "START"} for name in sidecars]
        if previous is not None and previous[1] == "SUCCESS":
            waits.append({"containerName": previous[0], "condition": "SUCCESS"})
        if waits:
            definition["dependsOn"] = waits
        if policy != "Never":
            definition["restartPolicy"] = {
                "enabled": True,
                **({"ignoredExitCodes": [0]} if policy == "OnFailure" else {}),
            }
        definitions.append(definition)
        containers.append((container.name, False))
    size = _size(definitions)
    secret_bytes = len(secretstore_encode(secrets.values).encode())
    if secret_bytes > MAX_SECRET_BYTES:
        raise errors.InvalidPod(
            f"spec: the pod's Secret values and service-account token files take {secret_bytes} bytes in its AWS "
            f"Secrets Manager secret, which holds at most {MAX_SECRET_BYTES} bytes"
        )
    arguments: dict[str, Any] = {
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": size.cpu_text,
        "memory": size.memory_text,
        "executionRoleArn": config.execution_role_arn,
        "containerDefinitions": definitions,
        "volumes": [{"name": name} for name in volumes],
    }
    if config.task_role_arn:
        arguments["taskRoleArn"] = config.task_role_arn
    if ephemeral_gib > DEFAULT_EPHEMERAL_GIB:
        arguments["ephemeralStorage"] = {"sizeInGiB": ephemeral_gib}
    document = json.dumps({"node": node_name, "definition": arguments}, sort_keys=True).encode()
    family = "vk-" + hashlib.sha256(document).hexdigest()[:40]
    return TaskDefinition(
        family=family,
        arguments={"family": family, **arguments},
        size=size,
        containers=tuple(containers),
        secrets=dict(secrets.values),
        registry_secrets=tuple(dict(login) for login in registry.logins),
    )


def _check_pod(pod: pod_pb2.Pod) -> None:
    if not pod.metadata.uid:
        raise errors.InvalidPod("metadata.uid: required")
    if not pod.containers:
        raise errors.InvalidPod("spec.containers: at least one container is required")
    if pod.host_network:
        raise errors.InvalidPod(f"spec.hostNetwork: host networking is {_NOT_FARGATE} (tasks have their own ENI)")
    if pod.host_aliases:
        raise errors.InvalidPod(f"spec.hostAliases: extra /etc/hosts entries are {_NOT_FARGATE}")
    if pod.runtime_class_name:
        raise errors.InvalidPod(f"spec.runtimeClassName: {pod.runtime_class_name!r} is unknown to the Fargate provider")


def registry_host(server: str) -> str:
    """The registry host of a credential's server: no scheme, path or trailing slash; Docker Hub's names as one."""
    host = server.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].lower()
    return _DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def image_registry(image: str) -> str:
    """The registry host of an image reference (``docker.io`` when it names none, as Docker reads it)."""
    first, slash, _ = image.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        return _DOCKER_HUB
    return registry_host(first)


def registry_login(credential: pod_pb2.ImagePullCredential) -> dict[str, str]:
    """``{"username": ..., "password": ...}`` of a credential; InvalidPod (never naming a value) when ECS cannot
    use it."""
    where = f"spec.imagePullSecrets: the credentials for {credential.server!r}"
    if credential.identity_token or credential.registry_token:
        kind = "an identity token" if credential.identity_token else "a registry token"
        raise errors.InvalidPod(
            f"{where} are {kind}, which ECS cannot use: Fargate authenticates to private registries only with a "
            "user name and password (repositoryCredentials)"
        )
    username, password = credential.username, credential.password
    if not (username or password) and credential.auth:
        try:
            decoded = base64.b64decode(credential.auth, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        username, colon, password = decoded.partition(":")
        if not colon:
            raise errors.InvalidPod(f"{where} have an auth field that is not base64 of user:password")
    if not username or not password:
        raise errors.InvalidPod(f"{where} lack a user name or password, which ECS needs")
    return {"username": username, "password": password}


class _Registry:
    """Which secret each image's registry credentials are in: the annotation's, or one per distinct credential."""

    def __init__(self, pod: pod_pb2.Pod, arns: Sequence[str]) -> None:
        self.override = pod.metadata.annotations.get(REPOSITORY_CREDENTIALS_ANNOTATION, "")
        if self.override and not _SECRET_ARN.match(self.override):
            raise errors.InvalidPod(
                f"metadata.annotations[{REPOSITORY_CREDENTIALS_ANNOTATION}]: {self.override!r} is not a Secrets "
                "Manager secret ARN"
            )
        self.credentials = list(pod.image_pull_credentials)
        self.arns = list(arns)
        self.logins: list[dict[str, str]] = []

    def arn_for(self, image: str) -> str | None:
        if self.override:
            return self.override
        host = image_registry(image)
        credential = next((c for c in self.credentials if registry_host(c.server) == host), None)
        if credential is None:
            return None
        login = registry_login(credential)
        if login not in self.logins:
            self.logins.append(login)
        index = self.logins.index(login)
        return self.arns[index] if index < len(self.arns) else PENDING_SECRET_ARN


def _volumes(pod: pod_pb2.Pod) -> tuple[dict[str, str], list[tuple[str, volume_pb2.FilesVolume]], int]:
    """Task volume names by pod volume name (all plain task volumes), the files volumes, the ephemeral GiB."""
    names: dict[str, str] = {}
    files: list[tuple[str, volume_pb2.FilesVolume]] = []
    scratch_bytes = 0
    files_bytes = 0
    for index, volume in enumerate(pod.volumes):
        path = f"spec.volumes[{index}]"
        kind = volume.WhichOneof("source")
        if kind is None:
            raise errors.InvalidPod(f"{path}: the volume source is not set or is unknown to this provider")
        if kind == "unsupported":
            raise errors.InvalidPod(
                f"{path}.{volume.unsupported.kind}: {volume.unsupported.kind} volumes are {_NOT_FARGATE}"
            )
        if kind == "persistent_volume_claim":
            raise errors.InvalidPod(f"{path}.persistentVolumeClaim: persistent volume claims are {_NOT_FARGATE}")
        if kind == "azure_file":
            raise errors.InvalidPod(f"{path}.azureFile: Azure Files shares are {_NOT_FARGATE}")
        if kind == "empty_dir":
            if volume.empty_dir.medium == volume_pb2.STORAGE_MEDIUM_MEMORY:
                raise errors.InvalidPod(f"{path}.emptyDir.medium: Memory (tmpfs) volumes are {_NOT_FARGATE}")
            if volume.empty_dir.medium not in (volume_pb2.STORAGE_MEDIUM_UNSPECIFIED, volume_pb2.STORAGE_MEDIUM_DISK):
                raise errors.InvalidPod(f"{path}.emptyDir.medium: value {volume.empty_dir.medium} is unknown")
            scratch_bytes += volume.empty_dir.size_limit_bytes
        else:
            if not _sensitive(volume.files):
                files_bytes += sum(len(f.content) for f in volume.files.files)
            files.append((volume.name, volume.files))
        names[volume.name] = volume.name
    if files_bytes > MAX_FILES_BYTES:
        raise errors.InvalidPod(
            f"spec.volumes: configMap/downwardAPI files total {files_bytes} bytes; the Fargate provider delivers at "
            f"most {MAX_FILES_BYTES} bytes per pod (they travel in the task definition, limited to 64 KiB)"
        )
    for container in (*pod.init_containers, *pod.containers):
        requests = container.resources.requests
        limits = container.resources.limits
        if limits.HasField("ephemeral_storage_bytes") or requests.HasField("ephemeral_storage_bytes"):
            scratch_bytes += max(limits.ephemeral_storage_bytes, requests.ephemeral_storage_bytes)
    gib = -(-scratch_bytes // (1024**3))
    if gib > MAX_EPHEMERAL_GIB:
        raise errors.InvalidPod(
            f"spec.volumes: emptyDir size limits and ephemeral-storage requests total {gib} GiB; a Fargate task has "
            f"at most {MAX_EPHEMERAL_GIB} GiB"
        )
    return names, files, max(gib, DEFAULT_EPHEMERAL_GIB)


def _container(
    path: str,
    container: container_pb2.Container,
    pod: pod_pb2.Pod,
    config: FargateConfig,
    names: set[str],
    volumes: dict[str, str],
    credentials: str | None,
    stop_timeout: int,
    secrets: _Secrets,
) -> dict[str, Any]:
    if not container.name or container.name in names:
        raise errors.InvalidPod(f"{path}.name: {container.name!r} is missing or not unique (or reserved)")
    names.add(container.name)
    if not container.image:
        raise errors.InvalidPod(f"{path}.image: required")
    if container.image_pull_policy == container_pb2.IMAGE_PULL_POLICY_NEVER:
        raise errors.InvalidPod(f"{path}.imagePullPolicy: Never is {_NOT_FARGATE}: every task pulls its images")
    if container.runtime_expansion:
        raise errors.InvalidPod(
            f"{path}: $(VAR) references to status.podIP/hostIP values are {_NOT_FARGATE}: they are known only once the "
            "task runs"
        )
    environment, references = _environment(path, container, secrets)
    definition: dict[str, Any] = {
        "name": container.name,
        "image": container.image,
        "environment": environment,
        "stopTimeout": stop_timeout,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": config.log_group,
                "awslogs-region": config.region,
                "awslogs-stream-prefix": config.log_stream_prefix,
            },
        },
    }
    if references:
        definition["secrets"] = references
    if container.command:
        definition["entryPoint"] = list(container.command)
    if container.args:
        definition["command"] = list(container.args)
    if container.working_dir:
        definition["workingDirectory"] = container.working_dir
    if container.stdin:
        definition["interactive"] = True
    if container.tty:
        definition["pseudoTerminal"] = True
    if credentials is not None:
        definition["repositoryCredentials"] = {"credentialsParameter": credentials}
    definition.update(_resources(path, container))
    ports = _ports(path, container)
    if ports:
        definition["portMappings"] = ports
    mounts = []
    for index, mount in enumerate(container.volume_mounts):
        if mount.name not in volumes:
            raise errors.InvalidPod(f"{path}.volumeMounts[{index}].name: no volume named {mount.name!r}")
        if mount.sub_path:
            raise errors.InvalidPod(
                f"{path}.volumeMounts[{index}].subPath: mounting part of a volume is {_NOT_FARGATE}"
            )
        read_only = mount.read_only or any(v.name == mount.name and v.HasField("files") for v in pod.volumes)
        mounts.append({"sourceVolume": mount.name, "containerPath": mount.mount_path, "readOnly": read_only})
    if mounts:
        definition["mountPoints"] = mounts
    definition.update(_security(path, container.security_context, container.HasField("security_context")))
    _check_probes(path, container)
    if container.HasField("liveness_probe"):
        definition["healthCheck"] = _health_check(path, container.liveness_probe)
    return definition


def _environment(
    path: str, container: container_pb2.Container, secrets: _Secrets
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``environment`` (plain values) and ``secrets`` (references to sensitive ones); the last of a name wins."""
    values: dict[str, tuple[str, bool]] = {}
    for index, var in enumerate(container.env):
        source = var.WhichOneof("source")
        if source == "runtime_value":
            raise errors.InvalidPod(
                f"{path}.env[{index}] ({var.name}): values of status.podIP/hostIP are {_NOT_FARGATE}: they are "
                "known only once the task runs"
            )
        if source not in (None, "value"):
            raise errors.InvalidPod(f"{path}.env[{index}] ({var.name}): the value source is unknown to this provider")
        values.pop(var.name, None)
        values[var.name] = (var.value, var.sensitive)
    plain = [{"name": name, "value": value} for name, (value, sensitive) in values.items() if not sensitive]
    references = [secrets.reference(name, value) for name, (value, sensitive) in values.items() if sensitive]
    return plain, references


def _sensitive(volume: volume_pb2.FilesVolume) -> bool:
    return volume.sensitive or volume.source == volume_pb2.FILES_SOURCE_SECRET or any(f.sensitive for f in volume.files)


def _resources(path: str, container: container_pb2.Container) -> dict[str, Any]:
    requests, limits = container.resources.requests, container.resources.limits
    for kind, resources in (("requests", requests), ("limits", limits)):
        if resources.extended:
            name = sorted(resources.extended)[0]
            raise errors.InvalidPod(f"{path}.resources.{kind}[{name}]: extended resources are {_NOT_FARGATE}")
    result: dict[str, Any] = {}
    millicores = limits.cpu_millicores if limits.HasField("cpu_millicores") else requests.cpu_millicores
    result["cpu"] = sizing.cpu_units(millicores)
    if result["cpu"] > sizing.LARGEST_CPU:
        raise errors.InvalidPod(
            f"{path}.resources: {millicores}m CPU is more than the largest Fargate task "
            f"({sizing.LARGEST_CPU // sizing.CPU_UNITS_PER_VCPU} vCPU)"
        )
    if limits.HasField("memory_bytes"):
        result["memory"] = sizing.mebibytes(limits.memory_bytes)
    if requests.HasField("memory_bytes"):
        result["memoryReservation"] = max(sizing.mebibytes(requests.memory_bytes), 6)
    elif "memory" not in result:
        result["memoryReservation"] = DEFAULT_CONTAINER_MEMORY_MIB
    if max(result.get("memory", 0), result.get("memoryReservation", 0)) > sizing.LARGEST_MEMORY_MIB:
        raise errors.InvalidPod(
            f"{path}.resources: the memory asked for is more than the largest Fargate task "
            f"({sizing.LARGEST_MEMORY_MIB // 1024} GiB)"
        )
    return result


def _ports(path: str, container: container_pb2.Container) -> list[dict[str, Any]]:
    ports = []
    for index, port in enumerate(container.ports):
        protocol = _PROTOCOLS.get(port.protocol)
        if protocol is None:
            raise errors.InvalidPod(f"{path}.ports[{index}].protocol: only TCP and UDP ports are supported by Fargate")
        ports.append({"containerPort": port.container_port, "hostPort": port.container_port, "protocol": protocol})
    return ports


def _security(path: str, context: container_pb2.SecurityContext, present: bool) -> dict[str, Any]:
    if not present:
        return {}
    where = f"{path}.securityContext"
    result: dict[str, Any] = {}
    if context.privileged:
        raise errors.InvalidPod(f"{where}.privileged: privileged containers are {_NOT_FARGATE}")
    added = [cap for cap in context.capabilities.add if cap != "SYS_PTRACE"]
    if added:
        raise errors.InvalidPod(
            f"{where}.capabilities.add: {added[0]} is {_NOT_FARGATE} (only SYS_PTRACE can be added)"
        )
    if context.HasField("allow_privilege_escalation") and not context.allow_privilege_escalation:
        raise errors.InvalidPod(
            f"{where}.allowPrivilegeEscalation: false cannot be enforced on Fargate (no no_new_privs)"
        )
    if context.HasField("run_as_non_root") and context.run_as_non_root:
        if not context.HasField("run_as_user"):
            raise errors.InvalidPod(
                f"{where}.runAsNonRoot: Fargate cannot check the image's user; set runAsUser to a non-zero UID"
            )
        if context.run_as_user == 0:
            raise errors.InvalidPod(f"{where}.runAsNonRoot: runAsUser is 0")
    if context.HasField("run_as_user"):
        user = str(context.run_as_user)
        if context.HasField("run_as_group"):
            user += f":{context.run_as_group}"
        result["user"] = user
    elif context.HasField("run_as_group"):
        raise errors.InvalidPod(f"{where}.runAsGroup: ECS sets a group only together with runAsUser")
    if context.read_only_root_filesystem:
        result["readonlyRootFilesystem"] = True
    linux: dict[str, Any] = {}
    if context.capabilities.add:
        linux["add"] = list(context.capabilities.add)
    if context.capabilities.drop:
        linux["drop"] = list(context.capabilities.drop)
    if linux:
        result["linuxParameters"] = {"capabilities": linux}
    return result


def _check_probes(path: str, container: container_pb2.Container) -> None:
    if container.HasField("readiness_probe"):
        raise errors.InvalidPod(
            f"{path}.readinessProbe: Fargate cannot mark a running container unready without stopping it; readiness "
            "probes are not supported"
        )
    if container.HasField("startup_probe"):
        raise errors.InvalidPod(f"{path}.startupProbe: startup probes are {_NOT_FARGATE}")
    if container.HasField("liveness_probe") and container.liveness_probe.WhichOneof("handler") != "exec":
        kind = container.liveness_probe.WhichOneof("handler") or "(unknown)"
        raise errors.InvalidPod(
            f"{path}.livenessProbe.{_camel(kind)}: only exec liveness probes can run on Fargate (as an ECS health "
            "check inside the container)"
        )
    if container.HasField("lifecycle"):
        if container.lifecycle.HasField("post_start"):
            raise errors.InvalidPod(f"{path}.lifecycle.postStart: lifecycle hooks are {_NOT_FARGATE}")
        if container.lifecycle.HasField("pre_stop"):
            raise errors.InvalidPod(f"{path}.lifecycle.preStop: lifecycle hooks are {_NOT_FARGATE}")


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def _health_check(path: str, probe: container_pb2.Probe) -> dict[str, Any]:
    if not probe.exec.command:
        raise errors.InvalidPod(f"{path}.livenessProbe.exec.command: empty")
    return {
        "command": ["CMD", *probe.exec.command],
        "interval": _clamp(probe.period_seconds or 10, 5, 300),
        "timeout": _clamp(probe.timeout_seconds or 1, 2, 60),
        "retries": _clamp(probe.failure_threshold or 3, 1, 10),
        "startPeriod": _clamp(probe.initial_delay_seconds, 0, 300),
    }


def _files_helper(
    files_volumes: list[tuple[str, volume_pb2.FilesVolume]], config: FargateConfig, secrets: _Secrets
) -> dict[str, Any]:
    """The init container that writes every files volume into its task volume, then exits 0.

    Every file's content is base64 in an environment variable: a plain one in the task definition, or, for files
    of a sensitive volume, a ``secrets`` reference to the pod's secret (resolved by ECS at task start).
    """
    lines = ["set -e"]
    environment = []
    references = []
    count = 0
    for volume_name, volume in files_volumes:
        root = f"{_FILES_ROOT}/{volume_name}"
        sensitive = _sensitive(volume)
        for file in volume.files:
            target = f"{root}/{file.path}"
            variable = f"VK_FILE_{count}"
            count += 1
            encoded = base64.b64encode(file.content).decode()
            if sensitive:
                references.append(secrets.reference(variable, encoded))
            else:
                environment.append({"name": variable, "value": encoded})
            mode = f"{file.mode if file.HasField('mode') else 0o644:o}"
            quoted = shlex.quote(target)
            lines.append(f'mkdir -p "$(dirname {quoted})"')
            lines.append(f'printf %s "${variable}" | base64 -d > {quoted}')
            lines.append(f"chmod {mode} {quoted}")
    helper: dict[str, Any] = {
        "name": FILES_CONTAINER,
        "image": config.files_image,
        "essential": False,
        "entryPoint": ["sh", "-c", "\n".join(lines)],
        "environment": environment,
        "memoryReservation": FILES_HELPER_MEMORY_MIB,
        "cpu": 0,
        "mountPoints": [
            {"sourceVolume": name, "containerPath": f"{_FILES_ROOT}/{name}", "readOnly": False}
            for name, _ in files_volumes
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": config.log_group,
                "awslogs-region": config.region,
                "awslogs-stream-prefix": config.log_stream_prefix,
            },
        },
    }
    if references:
        helper["secrets"] = references
    return helper


def _size(definitions: list[dict[str, Any]]) -> sizing.TaskSize:
    cpu = sum(int(d.get("cpu", 0)) for d in definitions)
    memory = sum(max(int(d.get("memory", 0)), int(d.get("memoryReservation", 0))) for d in definitions)
    size = sizing.task_size(cpu, memory)
    if size is None:
        raise errors.InvalidPod(
            f"spec.containers[*].resources: the containers together need {cpu} CPU units and {memory} MiB; the "
            f"largest Fargate task has {sizing.LARGEST_CPU} units (16 vCPU) and {sizing.LARGEST_MEMORY_MIB} MiB"
        )
    return size


__all__ = [
    "DEFAULT_CONTAINER_MEMORY_MIB",
    "FILES_CONTAINER",
    "MAX_SECRET_BYTES",
    "PENDING_SECRET_ARN",
    "REPOSITORY_CREDENTIALS_ANNOTATION",
    "TaskDefinition",
    "build",
    "image_registry",
    "registry_host",
    "registry_login",
    "restart_policy",
]

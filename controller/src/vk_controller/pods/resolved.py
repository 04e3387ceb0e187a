"""What the pod object itself cannot tell, resolved before the pod goes to the provider.

A provider has no Kubernetes credentials, so the controller hands it everything a pod references: the values of
configMaps and secrets (as env vars and as files), service environment variables, service-account tokens,
registry credentials, the cluster DNS service. Another component fetches them and gathers them in a
``ResolvedPod``; the converter (``vk_controller.provider.topod``) combines it with the pod's JSON. Plain Python
types only: nothing here imports the generated protocol code.

Whatever is missing from a ``ResolvedPod`` the converter resolves from the pod alone where it can (literal env
values, ``fieldRef``, ``resourceFieldRef``), and otherwise raises ``UnresolvedReference`` naming the field, so that
the caller decides: fetch it, wait for it, or give up. A pod that cannot be converted however much is resolved
raises ``InvalidPodSpec``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class ConversionError(ValueError):
    """The pod cannot be turned into the protocol's message; ``field`` is the Kubernetes field path at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnresolvedReference(ConversionError):
    """The pod refers to something only the API server can tell (a configMap, a secret, ...) that was not resolved."""


class InvalidPodSpec(ConversionError):
    """The pod, as written, cannot be converted, whatever is resolved (e.g. a subPathExpr naming an undefined var)."""


class RuntimeValue(enum.Enum):
    """A downward API field only the running pod knows; the provider fills it in when the container starts."""

    POD_IP = "status.podIP"
    POD_IPS = "status.podIPs"
    HOST_IP = "status.hostIP"
    HOST_IPS = "status.hostIPs"


@dataclass(frozen=True)
class ResolvedEnvVar:
    """One entry of a container's environment, its source already read.

    ``expand`` is true for the pod's own ``env[].value`` literals: ``$(VAR)`` references in them are expanded
    against the entries before them and the service env. Values read from a source (``valueFrom``, ``envFrom``)
    are taken as they are, as the kubelet does. ``runtime`` marks a value only the running pod knows (then
    ``value`` is unused).
    """

    name: str
    value: str = ""
    sensitive: bool = False
    runtime: RuntimeValue | None = None
    expand: bool = False


@dataclass(frozen=True)
class ResolvedFile:
    """One file of a configMap, secret, downwardAPI or projected volume."""

    path: str  # relative to the volume root, "/" separators, never absolute, no ".."
    content: bytes
    mode: int | None = None  # permission bits with defaultMode and items[].mode applied; None means 0644
    sensitive: bool = False  # from a secret, or a service-account token


@dataclass(frozen=True)
class ResolvedFiles:
    """The whole content of a configMap, secret, downwardAPI or projected volume (which kind: the pod says)."""

    files: Sequence[ResolvedFile] = ()


@dataclass(frozen=True)
class AzureFileCredentials:
    """The storage account of an azureFile volume, read from its secret."""

    account_name: str
    account_key: str


@dataclass(frozen=True)
class PullCredential:
    """Credentials for one registry, as in a Docker config.json ``auths`` entry."""

    server: str
    username: str = ""
    password: str = ""
    auth: str = ""
    identity_token: str = ""
    registry_token: str = ""


@dataclass(frozen=True)
class ClusterDNS:
    """The cluster DNS service (for dnsPolicy ClusterFirst) and the cluster domain (e.g. "cluster.local")."""

    nameservers: Sequence[str]
    domain: str


@dataclass(frozen=True)
class ResolvedPod:
    """Everything resolved for one pod. A missing entry means "not resolved", never "empty"."""

    # Per container name: its complete environment in order (envFrom entries first, then env), before expansion.
    env: Mapping[str, Sequence[ResolvedEnvVar]] = field(default_factory=dict)
    # The service env vars (FOO_SERVICE_HOST, ...), added after each container's own and usable in $(VAR).
    service_env: Mapping[str, str] = field(default_factory=dict)
    # Per volume name: the files of configMap, secret, downwardAPI and projected volumes.
    files: Mapping[str, ResolvedFiles] = field(default_factory=dict)
    # Per volume name: the storage account of azureFile volumes.
    azure_files: Mapping[str, AzureFileCredentials] = field(default_factory=dict)
    # The credentials of spec.imagePullSecrets; None when not resolved.
    pull_credentials: Sequence[PullCredential] | None = None
    # None when unknown: dnsPolicy ClusterFirst then falls back to Default, as in the kubelet, and no FQDN is set.
    cluster_dns: ClusterDNS | None = None
    # The node's allocatable quantities ("cpu", "memory", "ephemeral-storage"): the values resourceFieldRef gives
    # for limits a container does not set.
    node_allocatable: Mapping[str, str] = field(default_factory=dict)
    # Changes when anything resolved changes, except service-account token values (a fresh token for the same
    # account and audience is not a change of the pod); empty when not computed.
    digest: str = ""

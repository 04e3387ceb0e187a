"""Creating the Node, or adopting the one a previous run (or another tool) left.

Running as the node's own identity, the NodeRestriction admission plugin decides what the Node may carry: most
labels under ``kubernetes.io`` and ``k8s.io`` are refused, and taints can be set only when the Node is created. So
labels are filtered before they are sent, taints go into the create, and on an adopted Node whatever differs from
what this run would have set (taints it cannot change, labels it may not set) is reported in the log and as an
Event on the Node instead of failing the start.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Any

from vk_controller import __version__
from vk_controller.kube import Conflict, KubeClient
from vk_controller.kube.client import STRATEGIC_MERGE_PATCH
from vk_controller.kube.events import WARNING, EventRecorder, ObjectRef
from vk_controller.node.template import Json, NodeTemplate

log = logging.getLogger(__name__)

KUBERNETES_VERSION = "v1.36.3"

# Labels a kubelet may set on its own Node (NodeRestriction; k8s.io/kubelet well_known_labels.go).
_KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
    }
)
_KUBELET_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _in_domain(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def label_allowed(key: str) -> bool:
    """Whether NodeRestriction lets a node set this label on itself."""
    if "/" not in key:
        return True
    domain = key.split("/", 1)[0]
    if _in_domain(domain, "node-restriction.kubernetes.io"):
        return False
    if not (_in_domain(domain, "kubernetes.io") or _in_domain(domain, "k8s.io")):
        return True
    return key in _KUBELET_LABELS or any(_in_domain(domain, ns) for ns in _KUBELET_NAMESPACES)


@dataclass(frozen=True)
class NodeSpec:
    """Everything this run wants the Node to be."""

    name: str
    template: NodeTemplate
    extra_labels: dict[str, str]
    taint_key: str
    disable_taint: bool
    address: str
    kubelet_port: int
    #: ``status.declaredFeatures``: node features the API server may rely on (e.g. ``ExtendWebSocketsToKubelet``).
    declared_features: tuple[str, ...] = ()

    def wanted_labels(self) -> dict[str, str]:
        info = self.template.node_info
        labels = {
            "type": "virtual-kubelet",
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": info.get("operatingSystem", "linux"),
            "kubernetes.io/arch": info.get("architecture", "amd64"),
            "node.kubernetes.io/exclude-from-external-load-balancers": "true",
        }
        if self.template.zone:
            labels["topology.kubernetes.io/zone"] = self.template.zone
        if self.template.region:
            labels["topology.kubernetes.io/region"] = self.template.region
        labels.update(self.template.labels)
        labels.update(self.extra_labels)
        return labels

    def taints(self) -> list[Json]:
        taints = (
            []
            if self.disable_taint
            else [{"key": self.taint_key, "value": self.template.provider_name, "effect": "NoSchedule"}]
        )
        return taints + [t for t in self.template.taints if t["key"] != self.taint_key]

    def addresses(self) -> list[Json]:
        return [
            {"type": "InternalIP", "address": self.address},
            {"type": "Hostname", "address": self.name},
            *self.template.addresses,
        ]

    def node_info(self) -> Json:
        return {
            **self.template.node_info,
            "kubeletVersion": f"{KUBERNETES_VERSION}-vk-{__version__}",
            "kubeProxyVersion": "",
        }

    def static_status(self) -> Json:
        """The status fields that change only when the provider's template does."""
        status: Json = {
            "capacity": self.template.capacity,
            "allocatable": self.template.allocatable,
            "addresses": self.addresses(),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": self.node_info(),
        }
        if self.declared_features:
            status["declaredFeatures"] = sorted(self.declared_features)
        return status


def default_address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def _split_labels(wanted: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    allowed = {k: v for k, v in wanted.items() if label_allowed(k)}
    return allowed, sorted(k for k in wanted if k not in allowed)


async def register(kube: KubeClient, spec: NodeSpec, events: EventRecorder) -> dict[str, Any]:
    """Create the Node, or adopt an existing one; returns the Node as the API server has it."""
    labels, refused = _split_labels(spec.wanted_labels())
    ref = ObjectRef(kind="Node", name=spec.name)
    if refused:
        message = f"labels not set because NodeRestriction forbids a node to set them: {', '.join(refused)}"
        log.warning("%s", message)
        events.record(ref, WARNING, "NodeLabelsRefused", message)
    body = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": spec.name, "labels": labels, "annotations": spec.template.annotations},
        "spec": {"taints": spec.taints()},
        "status": spec.static_status(),
    }
    try:
        node: dict[str, Any] = await kube.create("/api/v1/nodes", body)
        log.info("registered node %s", spec.name)
        return node
    except Conflict:
        pass
    existing: dict[str, Any] = await kube.get(f"/api/v1/nodes/{spec.name}")
    differences = _taint_differences(existing.get("spec", {}).get("taints") or [], spec.taints())
    if differences:
        message = f"adopted node keeps its taints ({differences}); a node may not change its own taints"
        log.warning("%s", message)
        events.record(
            ObjectRef(kind="Node", name=spec.name, uid=existing["metadata"]["uid"]),
            WARNING,
            "NodeTaintsDiffer",
            message,
        )
    current = existing["metadata"].get("labels") or {}
    changed = {k: v for k, v in labels.items() if current.get(k) != v}
    if changed or spec.template.annotations:
        existing = await kube.patch(
            f"/api/v1/nodes/{spec.name}",
            {"metadata": {"labels": changed, "annotations": spec.template.annotations}},
            content_type=STRATEGIC_MERGE_PATCH,
        )
    log.info("adopted existing node %s", spec.name)
    return existing


def _taint_differences(have: list[Json], want: list[Json]) -> str:
    def key(t: Json) -> tuple[str, str, str]:
        return (t.get("key", ""), t.get("value", ""), t.get("effect", ""))

    have_set = {key(t) for t in have if t.get("key") != "node.kubernetes.io/not-ready"}
    have_set = {t for t in have_set if not t[0].startswith("node.kubernetes.io/")}
    want_set = {key(t) for t in want}
    parts = []
    if missing := want_set - have_set:
        parts.append("missing " + ", ".join(f"{k}={v}:{e}" for k, v, e in sorted(missing)))
    if extra := have_set - want_set:
        parts.append("unexpected " + ", ".join(f"{k}={v}:{e}" for k, v, e in sorted(extra)))
    return "; ".join(parts)

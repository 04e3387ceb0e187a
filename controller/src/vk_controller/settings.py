"""vk-controller's settings: every flag also comes from an environment variable (``VK_`` + the flag in capitals).

Flag names follow upstream virtual-kubelet where they fit (``--nodename``, ``--provider``, ``--pod-sync-workers``,
``--disable-taint``, ``--log-level``). Intervals are configurable so tests can shorten them; the defaults are
the kubelet's.
"""

from __future__ import annotations

import argparse
import copy
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vk_controller import nodes_config


@dataclass(frozen=True)
class Settings:
    node_name: str
    provider_address: str
    kubeconfig: str | None = None
    kube_context: str | None = None
    provider_tls_ca: str | None = None
    provider_tls_cert: str | None = None
    provider_tls_key: str | None = None
    provider_tls_server_name: str | None = None
    pod_sync_workers: int = 10
    disable_taint: bool = False
    taint_key: str = "virtual-kubelet.io/provider"
    log_level: str = "info"
    log_format: str = "text"
    node_labels: dict[str, str] = field(default_factory=dict)
    node_address: str | None = None
    kubelet_port: int = 10250
    kubelet_address: str = "0.0.0.0"  # noqa: S104 - the kubelet API serves the cluster
    tls_cert_file: str | None = None
    tls_private_key_file: str | None = None
    client_ca_file: str | None = None
    anonymous_auth: bool = False
    healthz_port: int = 10248
    healthz_bind_address: str = "127.0.0.1"
    metrics_port: int = 10255
    metrics_bind_address: str = "0.0.0.0"  # noqa: S104 - scraped from the cluster
    lease_duration: int = 40
    lease_renew_interval: float = 10.0
    node_status_update_frequency: float = 60.0
    provider_ping_interval: float = 5.0
    provider_ping_timeout: float = 5.0
    provider_call_timeout: float = 30.0
    shutdown_timeout: float = 10.0
    leader_elect: bool = False
    leader_elect_identity: str = ""
    leader_elect_retry_period: float = 2.0
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    kubernetes_service_host: str | None = None
    kubernetes_service_port: int | None = None
    bootstrap_kubeconfig: str | None = None
    cert_dir: str = "/var/lib/vk/pki"
    rotate_certificates: bool = True

    @property
    def provider_tls(self) -> bool:
        return bool(self.provider_tls_ca or self.provider_tls_cert)


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get("VK_" + name.upper().replace("-", "_"), default)


def _bool(text: str) -> bool:
    """``--flag=true|false`` as the kubelet's boolean flags take it."""
    value = text.strip().lower()
    if value in ("1", "t", "true", "yes"):
        return True
    if value in ("0", "f", "false", "no", ""):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean")


def _labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"label {item!r} is not key=value")
        labels[key] = value
    return labels


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vk-controller",
        description="A virtual kubelet: registers a Node and runs the pods bound to it through a gRPC provider.",
        epilog="Every flag can also be set by an environment variable: VK_ plus the flag name in capitals "
        "with dashes as underscores (--provider-address is VK_PROVIDER_ADDRESS).",
    )

    def add(flag: str, *, default: object = None, help: str, **kwargs: object) -> None:
        env = _env(flag)
        if env is not None:
            default = env if kwargs.get("type") is None else kwargs["type"](env)  # type: ignore[operator]
        p.add_argument(f"--{flag}", default=default, help=help, **kwargs)  # type: ignore[arg-type]

    add("nodename", default=socket.gethostname(), help="name of the Node to register (default: the host name)")
    add("provider-address", help="the provider's gRPC target: host:port or unix:/path/to/socket (required)")
    add("kubeconfig", default=os.environ.get("KUBECONFIG"), help="kubeconfig file (default: in-cluster config)")
    add("kube-context", help="kubeconfig context to use (default: its current-context)")
    add(
        "bootstrap-kubeconfig",
        help="kubeconfig allowed to request a node client certificate (CSR): used, as by the kubelet, when the "
        "--kubeconfig file is missing or its certificate expired; --kubeconfig is then written, naming the "
        "certificate in --cert-dir",
    )
    add("cert-dir", default="/var/lib/vk/pki", help="where the node's client certificates and keys are kept")
    add(
        "rotate-certificates",
        default=True,
        type=_bool,
        nargs="?",
        const=True,
        help="with --bootstrap-kubeconfig: renew the node's client certificate before it expires (default true)",
    )
    add("provider-tls-ca", help="CA bundle that verifies the provider's certificate (turns TLS on)")
    add("provider-tls-cert", help="client certificate for mutual TLS with the provider")
    add("provider-tls-key", help="key of --provider-tls-cert")
    add("provider-tls-server-name", help="name to verify in the provider's certificate")
    add("pod-sync-workers", default=10, type=int, help="pods reconciled concurrently")
    p.add_argument(
        "--disable-taint",
        type=_bool,
        nargs="?",
        const=True,
        default=_env("disable-taint", "") in {"1", "true", "yes"},
        help="do not taint the node (by default only pods tolerating the virtual-kubelet taint land on it)",
    )
    add("taint-key", default="virtual-kubelet.io/provider", help="key of the node's NoSchedule taint")
    add("log-level", default="info", choices=["debug", "info", "warning", "error"], help="log verbosity")
    add("log-format", default="text", choices=["text", "json"], help="log line format")
    add("node-labels", default="", help="extra node labels, key=value[,key=value]")
    add("node-address", help="InternalIP to advertise for the kubelet API (default: the provider's, else none)")
    add("kubelet-port", default=10250, type=int, help="port of the kubelet API, advertised in the Node")
    add("kubelet-address", default="0.0.0.0", help="IP address the kubelet API listens on")  # noqa: S104
    add(
        "tls-cert-file",
        help="serving certificate of the kubelet API (default: a self-signed one for the node name and address; "
        "the API server verifies it only against --kubelet-certificate-authority)",
    )
    add("tls-private-key-file", help="key of --tls-cert-file")
    add(
        "client-ca-file",
        help="CA bundle that verifies client certificates of kubelet API callers (CN: user, O: groups); "
        "without it only bearer tokens (TokenReview) authenticate",
    )
    try:
        anonymous_default = _bool(_env("anonymous-auth", "false") or "false")
    except argparse.ArgumentTypeError as error:
        p.error(f"VK_ANONYMOUS_AUTH: {error}")
    p.add_argument(
        "--anonymous-auth",
        type=_bool,
        nargs="?",
        const=True,
        default=anonymous_default,
        help="let requests without credentials through as system:anonymous (still authorized); default false",
    )
    add("healthz-port", default=10248, type=int, help="port of the plain /healthz endpoint (0: off)")
    add("healthz-bind-address", default="127.0.0.1", help="address the /healthz endpoint listens on")
    add(
        "metrics-port",
        default=10255,
        type=int,
        help="port of the Prometheus /metrics endpoint, no credentials (0: off)",
    )
    add("metrics-bind-address", default="0.0.0.0", help="address the /metrics endpoint listens on")  # noqa: S104
    add("node-lease-duration", default=40, type=int, help="leaseDurationSeconds of the node's Lease")
    add("node-lease-renew-interval", default=10.0, type=float, help="seconds between Lease renewals")
    add("node-status-update-frequency", default=60.0, type=float, help="seconds between node status heartbeats")
    add("provider-ping-interval", default=5.0, type=float, help="seconds between provider health checks")
    add("provider-ping-timeout", default=5.0, type=float, help="seconds before a health check counts as failed")
    add("provider-call-timeout", default=30.0, type=float, help="deadline of one provider call (create, delete...)")
    add("cluster-dns", default="", help="DNS server IPs for dnsPolicy ClusterFirst pods, comma-separated")
    add("cluster-domain", default="cluster.local", help="the cluster's DNS domain")
    add(
        "kubernetes-service-host",
        help="API server address pods get as KUBERNETES_SERVICE_HOST (default: the kubernetes service's cluster IP, "
        "which pods on a serverless backend usually cannot reach)",
    )
    add("kubernetes-service-port", type=int, help="API server port pods get as KUBERNETES_SERVICE_PORT")
    p.add_argument(
        "--leader-elect",
        type=_bool,
        nargs="?",
        const=True,
        default=_env("leader-elect", "") in {"1", "true", "yes"},
        help="several replicas for one node: only the one holding the node's Lease acts; the others stand by",
    )
    add(
        "leader-elect-identity",
        default=f"{socket.gethostname()}-{os.getpid()}",
        help="this replica's holder identity in the Lease (default: host name and process id)",
    )
    add("leader-elect-retry-period", default=2.0, type=float, help="seconds between a standby's looks at the Lease")
    add("shutdown-timeout", default=10.0, type=float, help="seconds SIGTERM may take before the process exits")
    add(
        "nodes-config",
        help="YAML or JSON file listing several nodes for this process, each entry its per-node flags (nodename, "
        "provider-address, kubeconfig, kubelet-port, ...); the command line's flags are every entry's defaults",
    )
    return p


def parse(argv: Sequence[str] | None = None) -> Settings:
    """The settings of a single node (``--nodes-config`` ignored)."""
    p = parser()
    return _settings(p, p.parse_args(argv))


def parse_nodes(argv: Sequence[str] | None = None) -> list[Settings]:
    """The settings of every node the process serves: the command line's node, or each ``--nodes-config`` entry
    over the command line's flags. The process-wide fields (logging, health, metrics, shutdown) are the same in
    every one."""
    p = parser()
    args = p.parse_args(argv)
    if not args.nodes_config:
        return [_settings(p, args)]
    flags = [option[2:] for action in p._actions for option in action.option_strings if option.startswith("--")]
    nodes = []
    try:
        entries = nodes_config.read(Path(args.nodes_config))
        for index, entry in enumerate(entries):
            where = f"{args.nodes_config}: nodes[{index}]"
            extra = nodes_config.entry_argv(entry, flags=flags, where=where)
            entry_parser = copy.copy(p)  # its errors name the entry
            entry_parser.prog = f"{p.prog}: {where}"
            # Parsing into a copy of the command line's values keeps them as defaults: argparse sets a default
            # only for what the namespace does not hold yet.
            nodes.append(_settings(entry_parser, entry_parser.parse_args(extra, namespace=copy.copy(args))))
    except nodes_config.NodesConfigError as error:
        p.error(str(error))
    names = [node.node_name for node in nodes]
    if len(set(names)) != len(names):
        p.error(f"{args.nodes_config}: two nodes have the same nodename")
    ports = [(node.kubelet_address, node.kubelet_port) for node in nodes]
    if len(set(ports)) != len(ports):
        p.error(f"{args.nodes_config}: two nodes have the same kubelet-address and kubelet-port")
    return nodes


def _settings(p: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    if not args.provider_address:
        p.error("--provider-address (or VK_PROVIDER_ADDRESS) is required")
    if bool(args.provider_tls_cert) != bool(args.provider_tls_key):
        p.error("--provider-tls-cert and --provider-tls-key go together")
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    try:
        labels = _labels(args.node_labels)
    except argparse.ArgumentTypeError as error:
        p.error(f"--node-labels: {error}")
    return Settings(
        node_name=args.nodename,
        provider_address=args.provider_address,
        kubeconfig=args.kubeconfig,
        kube_context=args.kube_context,
        provider_tls_ca=args.provider_tls_ca,
        provider_tls_cert=args.provider_tls_cert,
        provider_tls_key=args.provider_tls_key,
        provider_tls_server_name=args.provider_tls_server_name,
        pod_sync_workers=args.pod_sync_workers,
        disable_taint=args.disable_taint,
        taint_key=args.taint_key,
        log_level=args.log_level,
        log_format=args.log_format,
        node_labels=labels,
        node_address=args.node_address,
        kubelet_port=args.kubelet_port,
        kubelet_address=args.kubelet_address,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file,
        anonymous_auth=args.anonymous_auth,
        healthz_port=args.healthz_port,
        healthz_bind_address=args.healthz_bind_address,
        metrics_port=args.metrics_port,
        metrics_bind_address=args.metrics_bind_address,
        lease_duration=args.node_lease_duration,
        lease_renew_interval=args.node_lease_renew_interval,
        node_status_update_frequency=args.node_status_update_frequency,
        provider_ping_interval=args.provider_ping_interval,
        provider_ping_timeout=args.provider_ping_timeout,
        provider_call_timeout=args.provider_call_timeout,
        shutdown_timeout=args.shutdown_timeout,
        leader_elect=args.leader_elect,
        leader_elect_identity=args.leader_elect_identity,
        leader_elect_retry_period=args.leader_elect_retry_period,
        cluster_dns=tuple(ip.strip() for ip in args.cluster_dns.split(",") if ip.strip()),
        cluster_domain=args.cluster_domain,
        kubernetes_service_host=args.kubernetes_service_host,
        kubernetes_service_port=args.kubernetes_service_port,
        bootstrap_kubeconfig=args.bootstrap_kubeconfig,
        cert_dir=args.cert_dir,
        rotate_certificates=args.rotate_certificates,
    )

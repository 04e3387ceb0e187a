"""The product's processes as the tests and the demo run them: a provider and a controller, each its own process,
talking over real gRPC and to the real API server.

Intervals are passed in so tests can shorten them; every wait a test makes derives from them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vk_harness.controlplane import ControlPlane, ControlPlaneError, Identity
from vk_harness.processes import Process, free_port


def _console_script(name: str) -> str:
    """The workspace's console script, next to the running interpreter (the venv's bin)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


@dataclass
class ProviderProcess:
    process: Process
    address: str
    state_file: Path | None

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "listening on" in self.process.log_tail(200):
                return
            if not self.process.running():
                raise ControlPlaneError(f"provider exited ({self.process.exit_code()}):\n{self.process.log_tail()}")
            time.sleep(0.05)
        raise ControlPlaneError(f"provider did not start listening within {timeout}s:\n{self.process.log_tail()}")


def start_mock_provider(
    workdir: Path,
    *,
    name: str = "mock-provider",
    port: int | None = None,
    state_file: Path | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> ProviderProcess:
    """The mock provider's gRPC server on ``host`` (loopback unless a test has an address of its own for it)."""
    port = port or free_port()
    address = f"{host}:{port}"
    argv = [_console_script("vk-provider-mock"), "--listen", address, *extra_args]
    if state_file is not None:
        argv += ["--state-file", str(state_file)]
    process = Process(name, argv, log_path=workdir / f"{name}.log", env={**os.environ, **env} if env else None)
    process.start()
    provider = ProviderProcess(process=process, address=address, state_file=state_file)
    provider.wait_ready()
    return provider


@dataclass(frozen=True)
class ControllerIntervals:
    """The controller's timing knobs; the defaults here are the tests' shortened ones."""

    lease_renew_interval: float = 1.0
    lease_duration: int = 4
    node_status_update_frequency: float = 5.0
    provider_ping_interval: float = 0.5
    provider_ping_timeout: float = 1.0
    provider_call_timeout: float = 10.0

    def args(self) -> list[str]:
        return [
            f"--node-lease-renew-interval={self.lease_renew_interval}",
            f"--node-lease-duration={self.lease_duration}",
            f"--node-status-update-frequency={self.node_status_update_frequency}",
            f"--provider-ping-interval={self.provider_ping_interval}",
            f"--provider-ping-timeout={self.provider_ping_timeout}",
            f"--provider-call-timeout={self.provider_call_timeout}",
        ]


@dataclass
class ControllerProcess:
    process: Process
    node_name: str
    identity: Identity
    intervals: ControllerIntervals = field(default_factory=ControllerIntervals)
    #: The node's InternalIP, where its kubelet API listens (on ``kubelet_port``) with a serving certificate from
    #: the harness CA, which also verifies the API's callers' client certificates.
    node_address: str = "127.0.0.1"
    kubelet_port: int = 0
    #: The plain /healthz endpoint, on 127.0.0.1.
    healthz_port: int = 0
    #: Prometheus /metrics, plain HTTP on 127.0.0.1.
    metrics_port: int = 0

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def kubelet_url(self) -> str:
        return f"https://{self.node_address}:{self.kubelet_port}"


def start_controller(
    plane: ControlPlane,
    workdir: Path,
    *,
    node_name: str,
    provider_address: str,
    intervals: ControllerIntervals | None = None,
    extra_args: tuple[str, ...] = (),
    name: str | None = None,
    node_address: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    command_prefix: tuple[str, ...] = (),
) -> ControllerProcess:
    """vk-controller running as the node's own identity (``system:node:<name>``), as in production.

    Its kubelet API listens on a free port of ``node_address`` (the node's InternalIP) with a serving certificate
    the API server verifies (``--kubelet-certificate-authority`` is the harness CA), and accepts client certificates
    of that CA: the API server's own kubelet client among them. The API server reaches the kubelet API at that
    address for logs, exec and the like. Its node proxy (``/api/v1/nodes/<node>/proxy/...``) refuses loopback
    addresses: to reach the kubelet API that way, run the controller in a network namespace of the test's own
    (:mod:`vk_harness.netns`) with ``command_prefix`` its :attr:`~vk_harness.netns.NetworkNamespace.exec_prefix` and
    ``node_address`` its address there. The healthz and metrics ports are on the controller's 127.0.0.1, which
    inside such a namespace is the namespace's own.
    """
    intervals = intervals or ControllerIntervals()
    identity = plane.node_identity(node_name)
    serving = plane.kubelet_serving_credentials(node_name, node_address)
    kubelet_port, healthz_port, metrics_port = free_port(), free_port(), free_port()
    argv = [
        *command_prefix,
        _console_script("vk-controller"),
        f"--nodename={node_name}",
        f"--kubeconfig={identity.kubeconfig}",
        f"--provider-address={provider_address}",
        f"--node-address={node_address}",
        f"--kubelet-address={node_address}",
        f"--kubelet-port={kubelet_port}",
        f"--tls-cert-file={serving.cert_path}",
        f"--tls-private-key-file={serving.key_path}",
        f"--client-ca-file={plane.ca.cert_path}",
        f"--healthz-port={healthz_port}",
        f"--metrics-port={metrics_port}",
        "--metrics-bind-address=127.0.0.1",
        "--log-level=debug" if os.environ.get("VK_TEST_DEBUG") else "--log-level=info",
        *intervals.args(),
        *extra_args,
    ]
    process = Process(
        name or f"controller-{node_name}",
        argv,
        log_path=workdir / f"{name or 'controller-' + node_name}.log",
        env={**os.environ, **env} if env else None,
    )
    process.start()
    return ControllerProcess(
        process=process,
        node_name=node_name,
        identity=identity,
        intervals=intervals,
        node_address=node_address,
        kubelet_port=kubelet_port,
        healthz_port=healthz_port,
        metrics_port=metrics_port,
    )


def start_nodes_controller(
    plane: ControlPlane,
    workdir: Path,
    *,
    nodes: Mapping[str, str],
    intervals: ControllerIntervals | None = None,
    kubelet_ports: Mapping[str, int] | None = None,
    name: str = "controller-nodes",
    node_address: str = "127.0.0.1",
) -> list[ControllerProcess]:
    """One vk-controller process serving several nodes (``--nodes-config``): ``nodes`` maps each node's name to its
    provider's address. Each node has its own identity, serving certificate and kubelet API port (from
    ``kubelet_ports``, else a free one), as :func:`start_controller` gives one node; the nodes share the process,
    its health and metrics ports. One :class:`ControllerProcess` per node, in the order of ``nodes``."""
    intervals = intervals or ControllerIntervals()
    healthz_port, metrics_port = free_port(), free_port()
    entries, controllers = [], []
    for node_name, provider_address in nodes.items():
        identity = plane.node_identity(node_name)
        serving = plane.kubelet_serving_credentials(node_name, node_address)
        kubelet_port = (kubelet_ports or {}).get(node_name) or free_port()
        entries.append(
            {
                "nodename": node_name,
                "provider-address": provider_address,
                "kubeconfig": str(identity.kubeconfig),
                "kubelet-port": kubelet_port,
                "tls-cert-file": str(serving.cert_path),
                "tls-private-key-file": str(serving.key_path),
            }
        )
        controllers.append((node_name, identity, kubelet_port))
    config = workdir / f"{name}.json"
    config.write_text(json.dumps({"nodes": entries}, indent=2))
    argv = [
        _console_script("vk-controller"),
        f"--nodes-config={config}",
        f"--node-address={node_address}",
        f"--kubelet-address={node_address}",
        f"--client-ca-file={plane.ca.cert_path}",
        f"--healthz-port={healthz_port}",
        f"--metrics-port={metrics_port}",
        "--metrics-bind-address=127.0.0.1",
        "--log-level=debug" if os.environ.get("VK_TEST_DEBUG") else "--log-level=info",
        *intervals.args(),
    ]
    process = Process(name, argv, log_path=workdir / f"{name}.log")
    process.start()
    return [
        ControllerProcess(
            process=process,
            node_name=node_name,
            identity=identity,
            intervals=intervals,
            node_address=node_address,
            kubelet_port=kubelet_port,
            healthz_port=healthz_port,
            metrics_port=metrics_port,
        )
        for node_name, identity, kubelet_port in controllers
    ]

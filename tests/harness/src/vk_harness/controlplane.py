"""A real Kubernetes control plane on loopback: etcd and kube-apiserver, optionally the controller manager and
the scheduler, all on random free ports under one work directory.

What running kube-apiserver alone needs, and this module provides: a serving certificate, a client CA, an admin
identity (a client certificate in ``system:masters``), service-account signing keys and an issuer. Nobody runs the
controllers that normally create each namespace's ``default`` ServiceAccount and ``kube-root-ca.crt`` ConfigMap,
so :meth:`ControlPlane.create_namespace` creates both; without them ServiceAccount admission refuses pods and the
``kube-api-access`` volume of nearly every pod has nothing to project.

The API server runs ``--authorization-mode=Node,RBAC`` with the NodeRestriction admission plugin, so that a node
identity from :meth:`ControlPlane.node_identity` has exactly the rights a kubelet has.
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from vk_harness import binaries
from vk_harness.pki import CertificateAuthority, KeyPair, service_account_keys
from vk_harness.processes import Process, free_port
from vk_harness.rest import RestClient

SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"


class ControlPlaneError(RuntimeError):
    pass


@dataclass(frozen=True)
class Identity:
    """A user of the API server: its client certificate and a kubeconfig that uses it."""

    user: str
    groups: tuple[str, ...]
    credentials: KeyPair
    kubeconfig: Path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _wait_until(predicate: object, *, timeout: float, what: str, process: Process | None = None) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and not process.running():
            raise ControlPlaneError(f"{process.name} exited ({process.exit_code()}):\n{process.log_tail()}")
        time.sleep(0.1)
    tail = process.log_tail() if process else ""
    raise ControlPlaneError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


class ControlPlane:
    """One etcd and one kube-apiserver. ``start()`` and ``stop()``, or use it as a context manager."""

    def __init__(
        self,
        workdir: Path,
        *,
        kubernetes_version: str = binaries.KUBERNETES_VERSION,
        extra_apiserver_args: tuple[str, ...] = (),
        bind_address: str = "127.0.0.1",
    ) -> None:
        """``bind_address``: where kube-apiserver listens and advertises itself, and what every kubeconfig names as
        the server; loopback unless a test has an address of its own for it (see :mod:`vk_harness.netns`)."""
        self.workdir = workdir
        self.bind_address = bind_address
        self.kubernetes_version = kubernetes_version
        self._extra_apiserver_args = extra_apiserver_args
        self.pki_dir = workdir / "pki"
        self.pki_dir.mkdir(parents=True, exist_ok=True)
        self.ca = CertificateAuthority(self.pki_dir)
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.apiserver_port = free_port()
        self.server = f"https://{bind_address}:{self.apiserver_port}"
        self._sa_key, self._sa_pub = service_account_keys(self.pki_dir)
        self._serving = self.ca.issue(
            "apiserver",
            common_name="kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=tuple(dict.fromkeys(("127.0.0.1", "10.96.0.1", bind_address))),
            server=True,
        )
        self.kubelet_client = self.ca.issue(
            "apiserver-kubelet-client", common_name="kube-apiserver-kubelet-client", client=True
        )
        self.admin = self._identity("admin", "admin", ("system:masters",))
        self._etcd: Process | None = None
        self._apiserver: Process | None = None
        self._extra: list[Process] = []
        self.rest = RestClient(
            self.server,
            ca_path=self.ca.cert_path,
            cert_path=self.admin.credentials.cert_path,
            key_path=self.admin.credentials.key_path,
        )

    # -- identities ---------------------------------------------------------------------------------------------

    def _identity(self, stem: str, user: str, groups: tuple[str, ...]) -> Identity:
        credentials = self.ca.issue(stem, common_name=user, organizations=groups, client=True)
        kubeconfig = self.workdir / f"{stem}.kubeconfig"
        self._write_kubeconfig(kubeconfig, user, credentials)
        return Identity(user=user, groups=groups, credentials=credentials, kubeconfig=kubeconfig)

    def _write_kubeconfig(self, path: Path, user: str, credentials: KeyPair) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "harness",
                    "cluster": {"server": self.server, "certificate-authority-data": _b64(self.ca.cert_pem)},
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": _b64(credentials.cert_pem),
                        "client-key-data": _b64(credentials.key_pem),
                    },
                }
            ],
            "contexts": [{"name": "harness", "context": {"cluster": "harness", "user": user}}],
            "current-context": "harness",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)

    def node_identity(self, node_name: str) -> Identity:
        """Credentials of the kubelet of ``node_name``: user ``system:node:<name>`` in group ``system:nodes``."""
        return self._identity(f"node-{node_name}", f"system:node:{node_name}", ("system:nodes",))

    def kubelet_serving_credentials(self, node_name: str, address: str = "127.0.0.1") -> KeyPair:
        """A serving certificate for the node's kubelet API, signed by the CA the API server verifies kubelets with
        (valid for ``address`` and for 127.0.0.1)."""
        return self.ca.issue(
            f"kubelet-serving-{node_name}",
            common_name=f"system:node:{node_name}",
            organizations=("system:nodes",),
            dns_names=(node_name,),
            ip_addresses=tuple(dict.fromkeys((address, "127.0.0.1"))),
            server=True,
        )

    def user_identity(self, user: str, groups: tuple[str, ...] = ()) -> Identity:
        return self._identity(f"user-{user.replace(':', '-')}", user, groups)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        etcd = binaries.etcd_binary()
        apiserver = binaries.kubernetes_binary("kube-apiserver", self.kubernetes_version)
        self._start_etcd(etcd)
        self._start_apiserver(apiserver)

    def _start_etcd(self, etcd: Path) -> None:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self._etcd = Process(
            "etcd",
            [
                str(etcd),
                "--name=harness",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=harness={peer}",
                "--unsafe-no-fsync",  # a throwaway store: durability costs time and buys nothing here
                "--log-level=warn",
            ],
            log_path=self.workdir / "etcd.log",
        )
        self._etcd.start()
        _wait_until(lambda: _http_ok(f"{client}/health"), timeout=30, what="etcd health", process=self._etcd)

    def _apiserver_argv(self, apiserver: Path) -> list[str]:
        pki = self.pki_dir
        return [
            str(apiserver),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            f"--bind-address={self.bind_address}",
            f"--advertise-address={self.bind_address}",
            f"--secure-port={self.apiserver_port}",
            f"--tls-cert-file={self._serving.cert_path}",
            f"--tls-private-key-file={self._serving.key_path}",
            f"--client-ca-file={self.ca.cert_path}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={self._sa_pub}",
            f"--service-account-signing-key-file={self._sa_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
            f"--kubelet-client-certificate={self.kubelet_client.cert_path}",
            f"--kubelet-client-key={self.kubelet_client.key_path}",
            f"--kubelet-certificate-authority={self.ca.cert_path}",
            # Reach kubelets (our controller's kubelet API) by the InternalIP they advertise, never by a DNS lookup.
            "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            f"--cert-dir={pki}",
            *self._extra_apiserver_args,
        ]

    def _start_apiserver(self, apiserver: Path) -> None:
        self._apiserver = Process(
            "kube-apiserver", self._apiserver_argv(apiserver), log_path=self.workdir / "kube-apiserver.log"
        )
        self._apiserver.start()
        _wait_until(self.rest.healthy, timeout=120, what="kube-apiserver /readyz", process=self._apiserver)
        self._grant_kubelet_api_access()

    def _grant_kubelet_api_access(self) -> None:
        """Let the API server's kubelet-client identity use the kubelet API, as kubeadm does."""
        self.rest.create(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {
                "metadata": {"name": "vk-harness:kube-apiserver-kubelet-client"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "system:kubelet-api-admin",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-apiserver-kubelet-client"}
                ],
            },
            exist_ok=True,
        )

    def restart_apiserver(self) -> None:
        """Stop and start kube-apiserver on the same port and store, as an upgrade or a crash would."""
        if self._apiserver is None:
            raise ControlPlaneError("kube-apiserver is not running")
        self._apiserver.stop()
        self._start_apiserver(Path(self._apiserver.argv[0]))

    def stop(self) -> None:
        for process in reversed(self._extra):
            process.stop()
        self._extra.clear()
        if self._apiserver is not None:
            self._apiserver.stop()
        if self._etcd is not None:
            self._etcd.stop()

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- optional components ------------------------------------------------------------------------------------

    def start_controller_manager(
        self, controllers: str = "*", *, cluster_signing_duration: str | None = None
    ) -> Process:
        """kube-controller-manager from the same build, able to sign CSRs with the harness CA.

        Its ``csrapproving`` controller approves kubelet client CSRs whose requester may create
        ``certificatesigningrequests/nodeclient`` (or ``selfnodeclient`` for its own node); ``csrsigning`` issues
        them from the harness CA, valid for ``cluster_signing_duration`` (e.g. ``"3m"``; default one year), which
        the signer backdates by five minutes."""
        binary = binaries.kubernetes_binary("kube-controller-manager", self.kubernetes_version)
        identity = self.user_identity("system:kube-controller-manager")
        process = Process(
            "kube-controller-manager",
            [
                str(binary),
                f"--kubeconfig={identity.kubeconfig}",
                f"--authentication-kubeconfig={identity.kubeconfig}",
                f"--authorization-kubeconfig={identity.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--controllers={controllers}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={self._sa_key}",
                f"--root-ca-file={self.ca.cert_path}",
                f"--cluster-signing-cert-file={self.ca.cert_path}",
                f"--cluster-signing-key-file={self.ca.key_path}",
                "--leader-elect=false",
                *([f"--cluster-signing-duration={cluster_signing_duration}"] if cluster_signing_duration else []),
            ],
            log_path=self.workdir / "kube-controller-manager.log",
        )
        process.start()
        self._extra.append(process)
        return process

    def start_scheduler(self) -> Process:
        binary = binaries.kubernetes_binary("kube-scheduler", self.kubernetes_version)
        identity = self.user_identity("system:kube-scheduler")
        process = Process(
            "kube-scheduler",
            [
                str(binary),
                f"--kubeconfig={identity.kubeconfig}",
                f"--authentication-kubeconfig={identity.kubeconfig}",
                f"--authorization-kubeconfig={identity.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                "--leader-elect=false",
            ],
            log_path=self.workdir / "kube-scheduler.log",
        )
        process.start()
        self._extra.append(process)
        return process

    # -- set-up helpers -----------------------------------------------------------------------------------------

    def create_namespace(self, name: str) -> str:
        """A namespace ready for pods: the ``default`` ServiceAccount and ``kube-root-ca.crt`` created."""
        self.rest.create("/api/v1/namespaces", {"metadata": {"name": name}}, exist_ok=True)
        self.rest.create(f"/api/v1/namespaces/{name}/serviceaccounts", {"metadata": {"name": "default"}}, exist_ok=True)
        self.rest.create(
            f"/api/v1/namespaces/{name}/configmaps",
            {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": self.ca.cert_pem.decode()}},
            exist_ok=True,
        )
        return name

    def kubectl(
        self,
        *args: str,
        identity: Identity | None = None,
        input_text: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the harness's kubectl, as the admin unless another identity is given."""
        kubectl = binaries.kubernetes_binary("kubectl", self.kubernetes_version)
        kubeconfig = (identity or self.admin).kubeconfig
        result = subprocess.run(
            [str(kubectl), f"--kubeconfig={kubeconfig}", *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    @property
    def apiserver(self) -> Process:
        if self._apiserver is None:
            raise ControlPlaneError("not started")
        return self._apiserver

    @property
    def etcd(self) -> Process:
        if self._etcd is None:
            raise ControlPlaneError("not started")
        return self._etcd


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False

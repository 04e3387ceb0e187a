"""The node's client certificate through the cluster's CSR API: TLS bootstrapping and rotation, as the kubelet does.

**Bootstrap** (``--bootstrap-kubeconfig``). When the ``--kubeconfig`` file is missing or its client certificate
has expired, the controller first looks in ``--cert-dir`` for a current certificate; failing that, it connects with
the bootstrap credentials (typically a ServiceAccount token allowed only to create CertificateSigningRequests),
makes an ECDSA key, and asks for a ``system:node:<name>`` client certificate from the
``kubernetes.io/kube-apiserver-client-kubelet`` signer. The cluster's approver approves it when the requester may
``create certificatesigningrequests/nodeclient``, the signer issues it, and the controller stores it in the cert
directory and writes the ``--kubeconfig`` naming it. From then on the controller is its node, bound by the Node
authorizer and NodeRestriction.

**Rotation** (``--rotate-certificates``, with a bootstrap kubeconfig). At a random point between 70% and 90% of the
certificate's lifetime the controller asks for the next one with its current node credentials (the approver's
``selfnodeclient`` path), stores it, and swaps it into the running client without a restart. A failed attempt is
retried with backoff; the old certificate stays in use until then.

The request is watched until it is issued, denied or failed; a denial or a failure is reported with the
condition's reason and message, and the wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from vk_controller.kube import certificates
from vk_controller.kube.certificates import CertificateStore
from vk_controller.kube.client import KubeClient
from vk_controller.kube.config import ConfigError, KubeConfig, from_kubeconfig
from vk_controller.kube.errors import ApiError, Gone

log = logging.getLogger(__name__)

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#: How long a request may wait for approval and signing before the attempt fails.
DEFAULT_ISSUE_TIMEOUT = 900.0
#: Seconds between attempts after a failed rotation; doubles up to the maximum.
ROTATION_RETRY = (2.0, 300.0)


class CertificateRequestError(ConfigError):
    """The node's certificate could not be obtained: the request was denied, failed or not issued in time."""


@dataclass(frozen=True)
class NodeCredentials:
    """What the certificate flags say: where the node's kubeconfig and certificates live and how to get them."""

    node_name: str
    kubeconfig: Path
    bootstrap_kubeconfig: Path
    cert_dir: Path
    rotate: bool = True
    issue_timeout: float = DEFAULT_ISSUE_TIMEOUT
    user_agent: str = "vk-controller"

    @property
    def store(self) -> CertificateStore:
        return CertificateStore(self.cert_dir)


class CertificateFlags(Protocol):
    """The settings this module reads: a node's ``--kubeconfig`` and certificate flags."""

    @property
    def node_name(self) -> str: ...
    @property
    def kubeconfig(self) -> str | None: ...
    @property
    def bootstrap_kubeconfig(self) -> str | None: ...
    @property
    def cert_dir(self) -> str: ...
    @property
    def rotate_certificates(self) -> bool: ...


def node_credentials(flags: CertificateFlags) -> NodeCredentials | None:
    """The node's certificate settings, or ``None`` when it has no ``--bootstrap-kubeconfig`` (its ``--kubeconfig``
    is then used as it is, and nothing is rotated)."""
    if not flags.bootstrap_kubeconfig:
        return None
    if not flags.kubeconfig:
        raise ConfigError(f"node {flags.node_name}: --bootstrap-kubeconfig needs --kubeconfig, the file to write")
    return NodeCredentials(
        node_name=flags.node_name,
        kubeconfig=Path(flags.kubeconfig).expanduser(),
        bootstrap_kubeconfig=Path(flags.bootstrap_kubeconfig).expanduser(),
        cert_dir=Path(flags.cert_dir).expanduser(),
        rotate=flags.rotate_certificates,
    )


async def bootstrap_nodes(nodes: Iterable[CertificateFlags]) -> None:
    """The process's entry point, before any node's client is made: every node with a bootstrap kubeconfig gets
    valid credentials in its ``--kubeconfig``. Each such node needs a ``--cert-dir`` of its own."""
    wanted = [credentials for flags in nodes if (credentials := node_credentials(flags)) is not None]
    directories = [credentials.cert_dir.resolve() for credentials in wanted]
    if len(set(directories)) != len(directories):
        raise ConfigError("nodes with --bootstrap-kubeconfig need a --cert-dir each: two of them share one")
    for credentials in wanted:
        await ensure_node_credentials(credentials)


async def ensure_node_credentials(credentials: NodeCredentials) -> None:
    """Make ``credentials.kubeconfig`` hold a valid client certificate of the node, bootstrapping it if needed."""
    if _valid_kubeconfig(credentials.kubeconfig):
        log.info("using the node credentials of %s", credentials.kubeconfig)
        return
    bootstrap = from_kubeconfig(credentials.bootstrap_kubeconfig)
    store = credentials.store
    current = store.current_validity()
    if current is not None and not current.expired():
        log.info("using the current certificate in %s", store.directory)
    else:
        log.info(
            "no valid node credentials in %s: requesting a certificate for %s with the bootstrap credentials",
            credentials.kubeconfig,
            certificates.node_user(credentials.node_name),
        )
        async with KubeClient(bootstrap, user_agent=credentials.user_agent) as client:
            await request_certificate(client, credentials)
    _write_kubeconfig(credentials.kubeconfig, bootstrap, store.current_path)


async def request_certificate(client: KubeClient, credentials: NodeCredentials) -> bytes:
    """Ask for a node client certificate as ``client``'s user, wait until it is issued and store it; return the
    certificate (PEM)."""
    key = certificates.new_key()
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "node-csr-"},
        "spec": {
            "request": base64.b64encode(certificates.request_pem(key, credentials.node_name)).decode(),
            "signerName": certificates.KUBELET_CLIENT_SIGNER,
            "usages": list(certificates.CLIENT_USAGES),
        },
    }
    created = await client.create(CSRS, body)
    name = created["metadata"]["name"]
    log.info("created CertificateSigningRequest %s; waiting for it to be approved and issued", name)
    try:
        async with asyncio.timeout(credentials.issue_timeout):
            cert_pem = await _issued(client, created)
    except TimeoutError as error:
        raise CertificateRequestError(
            f"CertificateSigningRequest {name} was not approved and issued within {credentials.issue_timeout:.0f}s: "
            "is the cluster's CSR approver running, and may the bootstrap credentials create "
            "certificatesigningrequests/nodeclient?"
        ) from error
    if not certificates.matches(cert_pem, key):
        raise CertificateRequestError(f"CertificateSigningRequest {name} was issued for another key")
    path = credentials.store.store(cert_pem, key)
    validity = certificates.validity(cert_pem)
    log.info("stored the certificate of %s in %s, valid until %s", name, path, validity.not_after.isoformat())
    return cert_pem


def _outcome(csr: dict[str, Any]) -> bytes | None:
    """The issued certificate, ``None`` while pending; raises on a denied or failed request."""
    status = csr.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Denied", "Failed") and condition.get("status", "True") == "True":
            raise CertificateRequestError(
                f"CertificateSigningRequest {csr['metadata']['name']} {condition['type'].lower()}: "
                f"{condition.get('reason', '')}: {condition.get('message', '')}".rstrip(": ")
            )
    issued = status.get("certificate")
    return base64.b64decode(issued) if issued else None


async def _issued(client: KubeClient, created: dict[str, Any]) -> bytes:
    """Watch one request until it carries a certificate; a lost watch is reopened from a fresh read."""
    name = created["metadata"]["name"]
    csr: dict[str, Any] | None = created
    delay = 0.2
    while True:
        try:
            if csr is None:
                csr = await client.get(f"{CSRS}/{name}")
            issued = _outcome(csr)
            if issued is not None:
                return issued
            params = {"fieldSelector": f"metadata.name={name}", "resourceVersion": csr["metadata"]["resourceVersion"]}
            async for event in client.watch(CSRS, params={**params, "timeoutSeconds": 300}):
                if event.get("type") in ("ADDED", "MODIFIED"):
                    issued = _outcome(event["object"])
                    if issued is not None:
                        return issued
                elif event.get("type") == "DELETED":
                    raise CertificateRequestError(f"CertificateSigningRequest {name} was deleted before it was issued")
            delay = 0.2
        except ApiError as error:
            if not (error.retryable or isinstance(error, Gone)):
                raise
            log.debug("watch of CertificateSigningRequest %s ended (%s); reading it again", name, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        csr = None


async def keep_rotated(client: KubeClient, credentials: NodeCredentials) -> None:
    """Forever: renew the node's certificate before it expires and switch ``client`` to it."""
    if from_kubeconfig(credentials.kubeconfig).client_cert_pem != credentials.store.current():
        log.info("%s does not use the certificate in %s: not rotating it", credentials.kubeconfig, credentials.cert_dir)
        return
    while True:
        current = credentials.store.current_validity()
        if current is None:
            log.warning("no current certificate in %s: nothing to rotate", credentials.cert_dir)
            return
        deadline = current.rotation_deadline()
        log.info("node certificate valid until %s; renewing it at %s", current.not_after, deadline.isoformat())
        await asyncio.sleep(max((deadline - _now()).total_seconds(), 0.0))
        await _renew(client, credentials, current)
        await client.use_config(from_kubeconfig(credentials.kubeconfig))
        log.info("switched to the renewed node certificate")


async def _renew(client: KubeClient, credentials: NodeCredentials, current: certificates.Validity) -> None:
    """Request the next certificate until one is issued; with the node's own credentials while they are valid
    (the approver's ``selfnodeclient`` path), with the bootstrap credentials once they have expired."""
    retry = ROTATION_RETRY[0]
    while True:
        try:
            if not current.expired():
                await request_certificate(client, credentials)
                return
            log.warning("the node certificate expired before it was renewed: using the bootstrap credentials")
            bootstrap = from_kubeconfig(credentials.bootstrap_kubeconfig)
            async with KubeClient(bootstrap, user_agent=credentials.user_agent) as bootstrap_client:
                await request_certificate(bootstrap_client, credentials)
            return
        except (ApiError, CertificateRequestError, OSError) as error:
            # Keep the current certificate while it lasts, and try again before it ends.
            remaining = (current.not_after - _now()).total_seconds()
            delay = retry if remaining <= 0 else max(min(retry, remaining / 2), 1.0)
            log.warning("renewing the node certificate failed (%s); retrying in %.0fs", error, delay)
            await asyncio.sleep(delay)
            retry = min(retry * 2, ROTATION_RETRY[1])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _valid_kubeconfig(path: Path) -> bool:
    """The kubelet's test: the file exists, loads, and holds at least one client certificate, none expired."""
    if not path.exists():
        return False
    try:
        config = from_kubeconfig(path)
    except (ConfigError, OSError) as error:
        log.warning("ignoring the unusable kubeconfig %s: %s", path, error)
        return False
    if not config.client_cert_pem:
        return False
    try:
        return not certificates.validity(config.client_cert_pem).expired()
    except ValueError:
        return False


def _write_kubeconfig(path: Path, bootstrap: KubeConfig, certificate: Path) -> None:
    """The node's kubeconfig: the bootstrap kubeconfig's cluster, and the cert directory's current certificate."""
    cluster: dict[str, Any] = {"server": bootstrap.server}
    if bootstrap.ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(bootstrap.ca_pem).decode()
    if bootstrap.insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    if bootstrap.tls_server_name:
        cluster["tls-server-name"] = bootstrap.tls_server_name
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster}],
        "users": [
            {
                "name": "default-auth",
                "user": {"client-certificate": str(certificate.absolute()), "client-key": str(certificate.absolute())},
            }
        ],
        "contexts": [{"name": "default-context", "context": {"cluster": "default-cluster", "user": "default-auth"}}],
        "current-context": "default-context",
    }
    certificates.write_private(path, yaml.safe_dump(config).encode())
    log.info("wrote the node kubeconfig %s", path)

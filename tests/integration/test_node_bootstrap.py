"""The controller's two production identities against a real control plane with kube-controller-manager's CSR
approver and signer: TLS bootstrapping (a ServiceAccount that may only request the node's client certificate; the
controller then acts as ``system:node:<name>``), certificate rotation, and the RBAC mode (the ServiceAccount's own
token, bound to the ClusterRole in ``deploy/``). Each mode is shown to be least privilege by real requests made with
its credentials.

The control plane is this module's own: its signer issues short certificates (``SIGNING_SECONDS``), so that a
rotation happens within a test.
"""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from integration.stack_fixtures import running_stack, wait_for
from vk_harness import ControlPlane
from vk_harness.stack import start_controller

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP_ROLE = ROOT / "deploy" / "bootstrap-clusterrole.yaml"
RBAC_MODE_ROLE = ROOT / "deploy" / "rbac-mode-clusterrole.yaml"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SELF_NODE_CLIENT = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
#: The signer's certificate lifetime, and how far it backdates certificates (kube-controller-manager's signer).
SIGNING_SECONDS = 180
BACKDATE_SECONDS = 300
#: The latest a first renewal can come after issue: 90% of the certificate's whole (backdated) lifetime.
LATEST_RENEWAL = 0.9 * (SIGNING_SECONDS + BACKDATE_SECONDS) - BACKDATE_SECONDS


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    control_plane = ControlPlane(tmp_path_factory.mktemp("csr-control-plane"))
    control_plane.start()
    try:
        control_plane.start_controller_manager(
            "csrapproving,csrsigning", cluster_signing_duration=f"{SIGNING_SECONDS}s"
        )
        for manifest in (BOOTSTRAP_ROLE, RBAC_MODE_ROLE):
            control_plane.kubectl("apply", "-f", str(manifest))
        yield control_plane
    finally:
        control_plane.stop()


# -- set-up helpers -----------------------------------------------------------------------------------------------


def _binding(kind: str, name: str, role_kind: str, role: str, subject: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [subject],
    }


def _service_account_token(
    plane: ControlPlane, namespace: str, name: str, *, cluster_role: str | None = None, lease_role: str | None = None
) -> str:
    """A ServiceAccount bound to ``cluster_role`` (and ``lease_role`` in kube-node-lease); a token of it, from the
    TokenRequest API as a pod of the chart would have it."""
    plane.rest.create(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": name}})
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    if cluster_role:
        body = _binding("ClusterRoleBinding", f"{namespace}-{name}", "ClusterRole", cluster_role, subject)
        plane.rest.create(f"{rbac}/clusterrolebindings", body)
    if lease_role:
        body = _binding("RoleBinding", f"{namespace}-{name}", "Role", lease_role, subject)
        plane.rest.create(f"{rbac}/namespaces/kube-node-lease/rolebindings", body)
    answer = plane.rest.create(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    return str(answer["status"]["token"])


def _token_kubeconfig(plane: ControlPlane, path: Path, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cluster",
                "cluster": {
                    "server": plane.server,
                    "certificate-authority-data": base64.b64encode(plane.ca.cert_pem).decode(),
                },
            }
        ],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "cluster", "user": "sa"}}],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def _bootstrap_args(workdir: Path, bootstrap_kubeconfig: Path, *, rotate: bool) -> tuple[str, ...]:
    return (
        f"--kubeconfig={workdir / 'node.kubeconfig'}",
        f"--bootstrap-kubeconfig={bootstrap_kubeconfig}",
        f"--cert-dir={workdir / 'pki'}",
        f"--rotate-certificates={'true' if rotate else 'false'}",
    )


def _status(plane: ControlPlane, method: str, path: str, *, token: str | None = None, cert: Path | None = None) -> int:
    """The HTTP status of one request made with a bearer token or a client certificate (cert and key in one PEM)."""
    context = ssl.create_default_context(cafile=str(plane.ca.cert_path))
    if cert is not None:
        context.load_cert_chain(str(cert))
    data = b"{}" if method in ("POST", "PUT") else None
    request = urllib.request.Request(plane.server + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _csrs_of(plane: ControlPlane, username: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = plane.rest.get(CSRS)["items"]
    return sorted((c for c in items if c["spec"]["username"] == username), key=lambda c: c["metadata"]["name"])


def _issued(csr: dict[str, Any]) -> x509.Certificate | None:
    issued = csr.get("status", {}).get("certificate")
    return x509.load_pem_x509_certificate(base64.b64decode(issued)) if issued else None


def _bystander(plane: ControlPlane, name: str) -> str:
    """Another node, registered by the admin: no credentials of ours may touch it."""
    plane.rest.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    return name


def _subject(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    attributes = cert.subject.get_attributes_for_oid
    return [str(a.value) for a in attributes(NameOID.COMMON_NAME)], [
        str(a.value) for a in attributes(NameOID.ORGANIZATION_NAME)
    ]


# -- bootstrap mode -----------------------------------------------------------------------------------------------


def test_the_controller_bootstraps_its_node_certificate_through_a_csr_and_runs_a_pod(
    plane: ControlPlane, tmp_path: Path, node_name: str
) -> None:
    namespace = plane.create_namespace(f"bootstrap-{node_name}"[:63])
    token = _service_account_token(plane, namespace, "vk-bootstrap", cluster_role="vk-controller-bootstrap")
    bootstrap = _token_kubeconfig(plane, tmp_path / "bootstrap.kubeconfig", token)
    other = _bystander(plane, f"{node_name}-bystander")

    with running_stack(
        plane, tmp_path, namespace, node_name, controller_args=_bootstrap_args(tmp_path, bootstrap, rotate=False)
    ) as stack:
        stack.create_pod("web")
        stack.wait_phase("web", "Running")

        # One request, made by the ServiceAccount, approved by the cluster's approver and issued by its signer.
        [csr] = _csrs_of(plane, f"system:serviceaccount:{namespace}:vk-bootstrap")
        assert csr["spec"]["signerName"] == KUBELET_SIGNER
        assert sorted(csr["spec"]["usages"]) == ["client auth", "digital signature"]
        assert [c["reason"] for c in csr["status"]["conditions"] if c["type"] == "Approved"] == ["AutoApproved"]
        issued = _issued(csr)
        assert issued is not None
        assert _subject(issued) == ([f"system:node:{node_name}"], ["system:nodes"])

        # Kept as a kubelet keeps it: the current link, private files, and a kubeconfig naming the link.
        current = tmp_path / "pki" / "kubelet-client-current.pem"
        assert current.is_symlink()
        assert current.resolve().stat().st_mode & 0o777 == 0o600
        assert x509.load_pem_x509_certificate(current.read_bytes()) == issued
        node_kubeconfig = tmp_path / "node.kubeconfig"
        assert node_kubeconfig.stat().st_mode & 0o777 == 0o600
        user = yaml.safe_load(node_kubeconfig.read_text())["users"][0]["user"]
        assert user == {"client-certificate": str(current), "client-key": str(current)}

        # The ServiceAccount can do nothing but request certificates; so the Node, its Lease and the pod's status
        # above were written with the node's certificate.
        assert _status(plane, "GET", f"/api/v1/nodes/{node_name}", token=token) == 403
        assert _status(plane, "DELETE", f"/api/v1/nodes/{other}", token=token) == 403
        assert _status(plane, "GET", "/api/v1/secrets", token=token) == 403
        assert _status(plane, "GET", f"/api/v1/namespaces/{namespace}/pods", token=token) == 403
        # The node's certificate is bound by the Node authorizer and NodeRestriction.
        assert _status(plane, "GET", f"/api/v1/nodes/{node_name}", cert=current) == 200
        assert _status(plane, "DELETE", f"/api/v1/nodes/{other}", cert=current) == 403
        assert _status(plane, "GET", "/api/v1/secrets", cert=current) == 403
        lease = plane.rest.get(f"{LEASES}/{node_name}")
        assert lease["spec"]["holderIdentity"] == node_name
    assert plane.rest.get(f"/api/v1/nodes/{other}")["metadata"]["name"] == other


def test_a_denied_request_stops_the_controller_with_the_reason(
    plane: ControlPlane, tmp_path: Path, node_name: str
) -> None:
    namespace = plane.create_namespace(f"denied-{node_name}"[:63])
    # May create requests but not have them approved: the approver leaves them pending, and an admin denies.
    plane.rest.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {
            "metadata": {"name": f"{namespace}-csr-only"},
            "rules": [
                {
                    "apiGroups": ["certificates.k8s.io"],
                    "resources": ["certificatesigningrequests"],
                    "verbs": ["create", "get", "list", "watch"],
                }
            ],
        },
    )
    token = _service_account_token(plane, namespace, "vk-bootstrap", cluster_role=f"{namespace}-csr-only")
    bootstrap = _token_kubeconfig(plane, tmp_path / "bootstrap.kubeconfig", token)
    controller = start_controller(
        plane,
        tmp_path,
        node_name=node_name,
        provider_address="127.0.0.1:1",  # never reached: the controller stops before it dials the provider
        extra_args=_bootstrap_args(tmp_path, bootstrap, rotate=True),
    )
    try:
        username = f"system:serviceaccount:{namespace}:vk-bootstrap"
        [csr] = wait_for(
            "the controller's CertificateSigningRequest",
            lambda: _csrs_of(plane, username),
            timeout=30,
            describe=controller.process.log_tail,
        )
        assert not csr.get("status", {}).get("conditions"), "the approver must not approve it"
        plane.kubectl("certificate", "deny", csr["metadata"]["name"])
        wait_for(
            "the controller to exit",
            lambda: not controller.process.running(),
            timeout=30,
            describe=controller.process.log_tail,
        )
        assert controller.process.exit_code() == 2
        log = controller.process.log_tail()
        assert f"CertificateSigningRequest {csr['metadata']['name']} denied" in log, log
        assert not (tmp_path / "node.kubeconfig").exists()
    finally:
        controller.process.stop()


def test_the_controller_renews_its_certificate_before_expiry_without_a_restart(
    plane: ControlPlane, tmp_path: Path, node_name: str
) -> None:
    namespace = plane.create_namespace(f"rotation-{node_name}"[:63])
    token = _service_account_token(plane, namespace, "vk-bootstrap", cluster_role="vk-controller-bootstrap")
    bootstrap = _token_kubeconfig(plane, tmp_path / "bootstrap.kubeconfig", token)
    node_user = f"system:node:{node_name}"
    # Renewals are approved for nodes allowed to create selfnodeclient requests: exactly this node here.
    plane.rest.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        _binding(
            "ClusterRoleBinding",
            f"{node_name}-renewal",
            "ClusterRole",
            SELF_NODE_CLIENT,
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": node_user},
        ),
    )

    with running_stack(
        plane, tmp_path, namespace, node_name, controller_args=_bootstrap_args(tmp_path, bootstrap, rotate=True)
    ) as stack:
        pid = stack.controller.process.pid
        [first] = _csrs_of(plane, f"system:serviceaccount:{namespace}:vk-bootstrap")
        first_cert = _issued(first)
        assert first_cert is not None

        def renewal() -> dict[str, Any] | None:
            issued = [c for c in _csrs_of(plane, node_user) if _issued(c) is not None]
            return issued[0] if issued else None

        renewed = wait_for(
            "a renewal requested with the node's own certificate and issued",
            renewal,
            timeout=LATEST_RENEWAL + 60,
            interval=1.0,
            describe=stack.controller.process.log_tail,
        )
        assert renewed["spec"]["signerName"] == KUBELET_SIGNER
        assert [c["reason"] for c in renewed["status"]["conditions"] if c["type"] == "Approved"] == ["AutoApproved"]
        renewed_cert = _issued(renewed)
        assert renewed_cert is not None
        assert _subject(renewed_cert) == ([node_user], ["system:nodes"])
        assert renewed_cert.not_valid_after_utc > first_cert.not_valid_after_utc
        wait_for(
            "the controller to switch to the renewed certificate",
            lambda: "switched to the renewed node certificate" in stack.controller.process.log_tail(400),
            timeout=30,
            describe=stack.controller.process.log_tail,
        )

        # Once the first certificate has expired, only the renewed one can keep the Lease: it keeps being renewed.
        expired = first_cert.not_valid_after_utc.timestamp()

        def renewed_after_expiry() -> bool:
            lease = plane.rest.get(f"{LEASES}/{node_name}")
            renew_time = datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00")).timestamp()
            return renew_time > expired + stack.intervals.lease_renew_interval

        wait_for(
            "the node's Lease to be renewed after the first certificate expired",
            renewed_after_expiry,
            timeout=SIGNING_SECONDS + 60,
            interval=1.0,
            describe=stack.controller.process.log_tail,
        )
        assert stack.controller.process.running(), "no restart"
        assert stack.controller.process.pid == pid, "no restart"
        assert stack.node_condition().get("status") == "True"
        stack.create_pod("after-rotation")
        stack.wait_phase("after-rotation", "Running")


# -- RBAC mode ----------------------------------------------------------------------------------------------------


def test_rbac_mode_runs_a_pod_with_the_service_account_token_and_no_more_rights(
    plane: ControlPlane, tmp_path: Path, node_name: str
) -> None:
    namespace = plane.create_namespace(f"rbac-{node_name}"[:63])
    token = _service_account_token(
        plane, namespace, "vk-controller", cluster_role="vk-controller-node", lease_role="vk-controller-node-lease"
    )
    kubeconfig = _token_kubeconfig(plane, tmp_path / "sa.kubeconfig", token)
    other = _bystander(plane, f"{node_name}-bystander")
    plane.rest.create(
        f"/api/v1/namespaces/{namespace}/secrets",
        {"metadata": {"name": "credentials"}, "stringData": {"password": "s3cret"}},
    )

    with running_stack(plane, tmp_path, namespace, node_name, controller_args=(f"--kubeconfig={kubeconfig}",)) as stack:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {
                "nodeName": node_name,
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox:1.36",
                        "env": [
                            {
                                "name": "PASSWORD",
                                "valueFrom": {"secretKeyRef": {"name": "credentials", "key": "password"}},
                            }
                        ],
                    }
                ],
            },
        }
        plane.rest.create(f"/api/v1/namespaces/{namespace}/pods", pod)
        stack.wait_phase("web", "Running")
        lease = plane.rest.get(f"{LEASES}/{node_name}")
        assert lease["spec"]["holderIdentity"] == node_name

        # Exactly what the controller calls, nothing more.
        assert _status(plane, "DELETE", f"/api/v1/nodes/{other}", token=token) == 403
        assert _status(plane, "GET", "/api/v1/nodes", token=token) == 403
        assert _status(plane, "PUT", f"/api/v1/nodes/{other}", token=token) == 403
        assert _status(plane, "POST", f"/api/v1/namespaces/{namespace}/secrets", token=token) == 403
        assert _status(plane, "DELETE", f"/api/v1/namespaces/{namespace}/secrets/credentials", token=token) == 403
        assert _status(plane, "POST", f"/api/v1/namespaces/{namespace}/pods", token=token) == 403
        assert _status(plane, "PUT", f"/api/v1/namespaces/{namespace}/pods/web", token=token) == 403
        coordination = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        assert _status(plane, "GET", coordination, token=token) == 403
        assert _status(plane, "POST", CSRS, token=token) == 403
        assert _status(plane, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", token=token) == 403
    assert plane.rest.get(f"/api/v1/nodes/{other}")["metadata"]["name"] == other

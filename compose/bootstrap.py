"""The local stack's one-shot steps (docker-compose.yml runs them; the compose twin test runs the same commands).

``pki``: one CA signs the API server's serving certificate, the admin's client certificate (``system:masters``),
each node's client certificate (``system:node:<name>`` in ``system:nodes``: the controller runs as its node) and
its kubelet-API serving certificate, the API server's kubelet-client certificate; plus the RSA key pair that
signs service-account tokens, and two admin kubeconfigs (one naming the server as the containers reach it, one as
the developer's host does). Run as root, it hands the files to ``--owner`` so a non-root controller can read them.
A directory that already holds them is kept as it is, so a restarted stack keeps its identities.

``cluster``: once the API server is ready, what a bare API server lacks and a cluster's other parts would add:
the binding that lets the API server's kubelet client use the kubelet API (as kubeadm creates), and the ``default``
namespace's ``default`` ServiceAccount and ``kube-root-ca.crt`` ConfigMap (the controller manager's job; without
them ServiceAccount admission refuses pods).

Only the standard library and ``cryptography`` (both in the controller's image) are used; kubeconfigs are written
as JSON, which is YAML.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
RBAC = "rbac.authorization.k8s.io"
SERVICE_IP = "10.96.0.1"  # the first address of the API server's --service-cluster-ip-range


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class _Authority:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vk-compose-ca")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        common_name: str,
        *,
        groups: Sequence[str] = (),
        names: Sequence[str] = (),
        server: bool = False,
    ) -> tuple[bytes, bytes]:
        """A leaf (certificate PEM, key PEM): a server certificate for ``names`` (DNS names or IPs), else a client
        certificate whose CN and O are the user and groups."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), False)
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _kubeconfig(server: str, ca_pem: bytes, user: str, cert_pem: bytes, key_pem: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "vk", "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}}],
        "contexts": [{"name": "vk", "context": {"cluster": "vk", "user": user}}],
        "current-context": "vk",
    }
    return json.dumps(config, indent=2) + "\n"


def _host(url: str) -> str:
    return url.split("://", 1)[-1].rsplit(":", 1)[0]


def write_pki(args: argparse.Namespace) -> None:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    expected = [out / f"node-{name}.kubeconfig" for name, _ in args.node] + [out / "admin-host.kubeconfig"]
    if all(path.exists() for path in expected):
        # A restarted stack keeps its CA and identities (the API server may still run with them); `docker compose
        # down -v` drops the volume and with it this directory.
        print(f"{out} already holds the certificates; kept", flush=True)
        return
    ca = _Authority()
    ca_pem = ca.cert.public_bytes(serialization.Encoding.PEM)
    files: dict[str, bytes] = {"ca.crt": ca_pem, "ca.key": _pem_key(ca.key)}
    apiserver_names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "localhost", "127.0.0.1"]
    apiserver_names += [SERVICE_IP, *args.apiserver_address, _host(args.apiserver_url), _host(args.public_url)]
    files["apiserver.crt"], files["apiserver.key"] = ca.issue(
        "kube-apiserver", names=list(dict.fromkeys(apiserver_names)), server=True
    )
    files["apiserver-kubelet-client.crt"], files["apiserver-kubelet-client.key"] = ca.issue(
        "kube-apiserver-kubelet-client"
    )
    for node_name, node_address in args.node:
        node_user = f"system:node:{node_name}"
        files[f"kubelet-{node_name}.crt"], files[f"kubelet-{node_name}.key"] = ca.issue(
            node_user,
            groups=["system:nodes"],
            names=list(dict.fromkeys([node_name, node_address, "127.0.0.1"])),
            server=True,
        )
        node_cert, node_key = ca.issue(node_user, groups=["system:nodes"])
        files[f"node-{node_name}.kubeconfig"] = _kubeconfig(
            args.apiserver_url, ca_pem, node_user, node_cert, node_key
        ).encode()
    admin_cert, admin_key = ca.issue("admin", groups=["system:masters"])
    files["admin.crt"], files["admin.key"] = admin_cert, admin_key
    files["admin.kubeconfig"] = _kubeconfig(args.apiserver_url, ca_pem, "admin", admin_cert, admin_key).encode()
    files["admin-host.kubeconfig"] = _kubeconfig(args.public_url, ca_pem, "admin", admin_cert, admin_key).encode()
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files["sa.key"] = _pem_key(sa_key)
    files["sa.pub"] = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        path.chmod(0o600)
        if args.owner is not None and os.geteuid() == 0:
            os.chown(path, args.owner, args.owner)
    print(f"wrote {len(files)} files to {out} for nodes {', '.join(name for name, _ in args.node)}", flush=True)


class _Api:
    """Just enough of a client for the cluster step: JSON over HTTPS with the admin's client certificate."""

    def __init__(self, server: str, pki: Path) -> None:
        self.server = server.rstrip("/")
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> int:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL is the API server's https address
            self.server + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def create(self, path: str, body: dict[str, Any]) -> None:
        status = self.request("POST", path, body)
        if status not in (200, 201, 409):  # 409: already there, from an earlier run
            raise SystemExit(f"POST {path}: HTTP {status}")


def prepare_cluster(args: argparse.Namespace) -> None:
    api = _Api(args.apiserver_url, args.pki)
    deadline = time.monotonic() + args.wait
    while True:
        try:
            if api.request("GET", "/readyz") == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{args.apiserver_url} was not ready within {args.wait:.0f}s")
        time.sleep(1)
    api.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": "vk-compose:kube-apiserver-kubelet-client"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:kubelet-api-admin",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-apiserver-kubelet-client"}
            ],
        },
    )
    api.create("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "default"}})
    api.create(
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": (args.pki / "ca.crt").read_text()}},
    )
    print(f"cluster at {args.apiserver_url} prepared", flush=True)


def _node(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=ADDRESS")
    return name, address


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bootstrap.py", description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    steps = p.add_subparsers(dest="step", required=True)
    pki = steps.add_parser("pki", help="write certificates, keys and kubeconfigs")
    pki.add_argument("--out", type=Path, required=True, help="directory to write to")
    pki.add_argument(
        "--node",
        type=_node,
        action="append",
        required=True,
        help="NAME=ADDRESS: a virtual node and its InternalIP (where its kubelet API listens); repeatable",
    )
    pki.add_argument("--apiserver-url", required=True, help="the API server as the containers reach it")
    pki.add_argument("--public-url", required=True, help="the API server as the developer's host reaches it")
    pki.add_argument(
        "--apiserver-address", action="append", default=[], help="another name or IP for the API server's certificate"
    )
    pki.add_argument("--owner", type=int, help="uid (and gid) to own the files, when run as root")
    cluster = steps.add_parser("cluster", help="wait for the API server, then create what a bare one lacks")
    cluster.add_argument("--pki", type=Path, required=True, help="the directory the pki step wrote")
    cluster.add_argument("--apiserver-url", required=True, help="the API server's URL")
    cluster.add_argument("--wait", type=float, default=120.0, help="seconds to wait for /readyz")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.step == "pki":
        write_pki(args)
    else:
        prepare_cluster(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The node's client certificate on disk, as the kubelet keeps it: keys, requests, the certificate directory.

A kubelet keeps each certificate it was issued, with its key, in one PEM file ``kubelet-client-<time>.pem`` under
``--cert-dir`` and points the symlink ``kubelet-client-current.pem`` at the newest. The kubeconfig it writes names
that symlink as both certificate and key, so a rotation changes one link and no configuration. We do the same, so
the layout is familiar to anyone who has looked after kubelets.

Keys are ECDSA P-256, which the kubelet uses too; with such a key the request asks for the usages
``digital signature`` and ``client auth`` (``key encipherment`` is for RSA), exactly one of the two sets the
kube-controller-manager's approver and the ``kubernetes.io/kube-apiserver-client-kubelet`` signer accept.
"""

from __future__ import annotations

import datetime
import os
import random
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
#: The usages of a kubelet client certificate with a non-RSA key.
CLIENT_USAGES = ("digital signature", "client auth")
NODES_GROUP = "system:nodes"
CURRENT = "kubelet-client-current.pem"


def node_user(node_name: str) -> str:
    return f"system:node:{node_name}"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def request_pem(key: ec.EllipticCurvePrivateKey, node_name: str) -> bytes:
    """A PKCS#10 request for ``CN=system:node:<name>, O=system:nodes``, with no alternative names (the approver
    refuses kubelet client requests that carry any)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, node_user(node_name)),
        ]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Validity:
    not_before: datetime.datetime
    not_after: datetime.datetime

    def expired(self, now: datetime.datetime | None = None) -> bool:
        return (now or datetime.datetime.now(datetime.UTC)) >= self.not_after

    def rotation_deadline(self, rng: random.Random | None = None) -> datetime.datetime:
        """When to ask for the next certificate: at 70-90% of the lifetime, chosen at random as the kubelet does,
        so that nodes issued certificates together do not all renew at once."""
        fraction = 0.7 + 0.2 * (rng or random).random()
        return self.not_before + (self.not_after - self.not_before) * fraction


def validity(pem: bytes) -> Validity:
    """The validity of the first certificate in ``pem``; ``ValueError`` when there is none."""
    certificate = x509.load_pem_x509_certificate(pem)
    return Validity(certificate.not_valid_before_utc, certificate.not_valid_after_utc)


def matches(cert_pem: bytes, key: ec.EllipticCurvePrivateKey) -> bool:
    """Whether the issued certificate is for ``key`` (a signer must not have swapped it)."""
    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return public.public_bytes(*raw) == key.public_key().public_bytes(*raw)


class CertificateStore:
    """``--cert-dir``: the issued certificates and their keys, and the ``kubelet-client-current.pem`` link."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def current_path(self) -> Path:
        return self.directory / CURRENT

    def current(self) -> bytes | None:
        """The current certificate and key as one PEM, or ``None`` when there is none or it cannot be read."""
        try:
            return self.current_path.read_bytes()
        except OSError:
            return None

    def current_validity(self) -> Validity | None:
        pem = self.current()
        if pem is None:
            return None
        try:
            return validity(pem)
        except ValueError:
            return None

    def store(self, cert_pem: bytes, key: ec.EllipticCurvePrivateKey) -> Path:
        """Write certificate and key (mode 0600) and make them current by replacing the link atomically."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")
        path = self.directory / f"kubelet-client-{stamp}.pem"
        _write_private(path, cert_pem.rstrip(b"\n") + b"\n" + key_pem(key))
        link = self.directory / f".{CURRENT}.{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(path.name)
        link.replace(self.current_path)
        return path


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, atomically (a reader never sees half of it)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    partial.replace(path)


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, data)

"""The kubelet API's TLS: its serving certificate and how client certificates are checked.

- Serving certificate: ``--tls-cert-file``/``--tls-private-key-file``; without them, as the kubelet does, a
  self-signed one for the node name and its addresses (the API server then reaches the node only if it does not
  verify kubelets' certificates: give a certificate signed by ``--kubelet-certificate-authority`` in production).
- Client certificates are requested but optional, and verified against ``--client-ca-file`` (without it none is
  requested, and only tokens authenticate).
- ALPN offers only ``http/1.1``: the API server's upgrade requests (exec, attach, port-forward) must not be
  negotiated to HTTP/2. TLS 1.2 at least, as Go's default.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

SELF_SIGNED_VALIDITY = datetime.timedelta(days=365)


def self_signed(node_name: str, addresses: Sequence[str]) -> tuple[bytes, bytes]:
    """A self-signed serving certificate and its key (PEM) for the node name and its IP addresses."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise RuntimeError(
            "no --tls-cert-file/--tls-private-key-file given, and generating a self-signed serving certificate "
            "needs the 'cryptography' package"
        ) from error
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@{int(now.timestamp())}")])
    sans: list[x509.GeneralName] = [x509.DNSName(node_name)]
    for address in addresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            sans.append(x509.DNSName(address))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + SELF_SIGNED_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def _load_pem(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    # The ssl module loads keys only from files: write them to a private directory and remove it at once.
    with tempfile.TemporaryDirectory(prefix="vk-serving-") as tmp:
        cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert.write_bytes(cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(key_pem)
        context.load_cert_chain(str(cert), str(key))


def server_context(
    *,
    cert_file: str | None,
    key_file: str | None,
    client_ca_file: str | None,
    node_name: str,
    addresses: Sequence[str] = (),
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if cert_file and key_file:
        context.load_cert_chain(cert_file, key_file)
    else:
        log.warning(
            "no --tls-cert-file given: serving the kubelet API with a self-signed certificate for %s",
            ", ".join([node_name, *addresses]),
        )
        _load_pem(context, *self_signed(node_name, addresses))
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context

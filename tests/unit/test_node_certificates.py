"""The node certificate's pieces that need no API server: the request, the rotation deadline, the cert directory,
and the kubelet's rules for when the kubeconfig is used as it is (see tests/integration/test_node_bootstrap.py for
the CSR flow itself)."""

from __future__ import annotations

import asyncio
import datetime
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vk_controller import settings
from vk_controller.kube import KubeClient, certificates
from vk_controller.kube.bootstrap import (
    NodeCredentials,
    bootstrap_nodes,
    ensure_node_credentials,
    keep_rotated,
    node_credentials,
)
from vk_controller.kube.certificates import CertificateStore, Validity
from vk_controller.kube.config import ConfigError, from_kubeconfig

NOW = datetime.datetime.now(datetime.UTC)


def _certificate(key: ec.EllipticCurvePrivateKey, *, not_before: datetime.datetime, days: float) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "system:node:n1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _kubeconfig(path: Path, user: dict[str, str]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://192.0.2.1:6443"}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_the_request_is_a_kubelet_client_request_for_the_node() -> None:
    key = certificates.new_key()
    request = x509.load_pem_x509_csr(certificates.request_pem(key, "n1"))
    assert request.is_signature_valid
    assert [a.value for a in request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["system:node:n1"]
    assert [a.value for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:nodes"]
    assert list(request.extensions) == []  # no alternative names: the approver refuses requests with any
    assert isinstance(key.curve, ec.SECP256R1)
    assert certificates.CLIENT_USAGES == ("digital signature", "client auth")


class _Fixed(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("draw", "fraction"), [(0.0, 0.7), (0.5, 0.8), (0.999999, 0.9)])
def test_renewal_comes_between_70_and_90_percent_of_the_lifetime(draw: float, fraction: float) -> None:
    validity = Validity(NOW, NOW + datetime.timedelta(hours=100))
    deadline = validity.rotation_deadline(_Fixed(draw))
    assert abs((deadline - NOW).total_seconds() - fraction * 100 * 3600) < 1


def test_the_store_keeps_private_files_behind_the_current_link(tmp_path: Path) -> None:
    store = CertificateStore(tmp_path / "pki")
    assert store.current() is None
    first_key, second_key = certificates.new_key(), certificates.new_key()
    first = store.store(_certificate(first_key, not_before=NOW, days=1), first_key)
    second = store.store(_certificate(second_key, not_before=NOW, days=2), second_key)
    assert first != second
    assert store.current_path.is_symlink()
    assert store.current_path.resolve() == second.resolve()
    assert {p.stat().st_mode & 0o777 for p in (first, second)} == {0o600}
    pem = store.current()
    assert pem is not None
    assert certificates.matches(pem, second_key)
    assert not certificates.matches(pem, first_key)
    validity = store.current_validity()
    assert validity is not None
    assert validity.not_after - validity.not_before == datetime.timedelta(days=2)


async def test_a_kubeconfig_with_a_valid_certificate_is_used_as_it_is(tmp_path: Path) -> None:
    key = certificates.new_key()
    (tmp_path / "node.pem").write_bytes(_certificate(key, not_before=NOW, days=1) + certificates.key_pem(key))
    kubeconfig = _kubeconfig(tmp_path / "node.kubeconfig", {"client-certificate": "node.pem", "client-key": "node.pem"})
    before = kubeconfig.read_text()
    credentials = NodeCredentials("n1", kubeconfig, tmp_path / "missing-bootstrap.kubeconfig", tmp_path / "pki")
    await ensure_node_credentials(credentials)  # the bootstrap kubeconfig is not even read
    assert kubeconfig.read_text() == before


async def test_an_expired_kubeconfig_gives_way_to_the_cert_directorys_current_certificate(tmp_path: Path) -> None:
    old_key, key = certificates.new_key(), certificates.new_key()
    (tmp_path / "old.pem").write_bytes(
        _certificate(old_key, not_before=NOW - datetime.timedelta(days=3), days=1) + certificates.key_pem(old_key)
    )
    kubeconfig = _kubeconfig(tmp_path / "node.kubeconfig", {"client-certificate": "old.pem", "client-key": "old.pem"})
    bootstrap = _kubeconfig(tmp_path / "bootstrap.kubeconfig", {"token": "bootstrap-token"})
    store = CertificateStore(tmp_path / "pki")
    store.store(_certificate(key, not_before=NOW, days=1), key)

    await ensure_node_credentials(NodeCredentials("n1", kubeconfig, bootstrap, tmp_path / "pki"))

    config = from_kubeconfig(kubeconfig)
    assert config.server == "https://192.0.2.1:6443"
    assert config.token is None
    assert config.client_cert_pem == store.current()
    assert kubeconfig.stat().st_mode & 0o777 == 0o600


@dataclass(frozen=True)
class _Flags:
    node_name: str = "n1"
    kubeconfig: str | None = "/nowhere/node.kubeconfig"
    bootstrap_kubeconfig: str | None = "/nowhere/bootstrap.kubeconfig"
    cert_dir: str = "/var/lib/vk/pki"
    rotate_certificates: bool = True


def test_bootstrap_needs_a_kubeconfig_to_write_and_a_cert_dir_per_node() -> None:
    assert node_credentials(_Flags(bootstrap_kubeconfig=None)) is None
    credentials = node_credentials(_Flags())
    assert credentials is not None
    assert credentials.cert_dir == Path("/var/lib/vk/pki")
    with pytest.raises(ConfigError, match="needs --kubeconfig"):
        node_credentials(_Flags(kubeconfig=None))


async def test_two_bootstrapped_nodes_cannot_share_a_cert_dir() -> None:
    with pytest.raises(ConfigError, match="--cert-dir each"):
        await bootstrap_nodes([_Flags(node_name="n1"), _Flags(node_name="n2")])


def test_the_certificate_flags() -> None:
    default = settings.parse(["--provider-address=127.0.0.1:1"])
    assert (default.bootstrap_kubeconfig, default.cert_dir, default.rotate_certificates) == (
        None,
        "/var/lib/vk/pki",
        True,
    )
    given = settings.parse(
        [
            "--provider-address=127.0.0.1:1",
            "--bootstrap-kubeconfig=/etc/vk/bootstrap",
            "--cert-dir=/pki",
            "--rotate-certificates=false",
        ]
    )
    assert (given.bootstrap_kubeconfig, given.cert_dir, given.rotate_certificates) == (
        "/etc/vk/bootstrap",
        "/pki",
        False,
    )


async def test_a_kubeconfig_not_naming_the_cert_dir_is_not_rotated(tmp_path: Path) -> None:
    key = certificates.new_key()
    (tmp_path / "own.pem").write_bytes(_certificate(key, not_before=NOW, days=1) + certificates.key_pem(key))
    kubeconfig = _kubeconfig(tmp_path / "node.kubeconfig", {"client-certificate": "own.pem", "client-key": "own.pem"})
    CertificateStore(tmp_path / "pki").store(_certificate(key, not_before=NOW, days=2), key)
    credentials = NodeCredentials("n1", kubeconfig, tmp_path / "bootstrap.kubeconfig", tmp_path / "pki")
    async with KubeClient(from_kubeconfig(kubeconfig)) as client:
        # Returns at once (it would sleep until the renewal deadline otherwise), and sends nothing.
        await asyncio.wait_for(keep_rotated(client, credentials), timeout=5)

"""The kubelet API's TLS settings and flags: a self-signed certificate when none is given, client certificates
optional, HTTP/1.1 only."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from vk_controller import settings
from vk_controller.kubeletapi.tls import self_signed, server_context


def test_a_self_signed_certificate_names_the_node_and_its_addresses() -> None:
    cert_pem, key_pem = self_signed("vk-1", ["10.1.2.3", "node.example"])

    cert = x509.load_pem_x509_certificate(cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["vk-1", "node.example"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.1.2.3")]
    assert cert.issuer == cert.subject
    assert b"PRIVATE KEY" in key_pem


def test_the_server_context_without_files_or_client_ca() -> None:
    context = server_context(
        cert_file=None, key_file=None, client_ca_file=None, node_name="vk-1", addresses=["10.0.0.1"]
    )

    assert context.verify_mode == ssl.CERT_NONE
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_client_certificates_are_optional_with_a_client_ca(tmp_path: Path) -> None:
    directory = tmp_path
    cert_pem, key_pem = self_signed("vk-1", ["127.0.0.1"])
    (directory / "tls.crt").write_bytes(cert_pem)
    (directory / "tls.key").write_bytes(key_pem)
    context = server_context(
        cert_file=str(directory / "tls.crt"),
        key_file=str(directory / "tls.key"),
        client_ca_file=str(directory / "tls.crt"),
        node_name="vk-1",
    )

    assert context.verify_mode == ssl.CERT_OPTIONAL


def test_kubelet_api_flags() -> None:
    parsed = settings.parse(["--provider-address=x:1", "--anonymous-auth=true", "--kubelet-address=10.0.0.1"])

    assert parsed.anonymous_auth is True
    assert (parsed.kubelet_address, parsed.kubelet_port) == ("10.0.0.1", 10250)
    assert (parsed.healthz_bind_address, parsed.healthz_port) == ("127.0.0.1", 10248)
    assert settings.parse(["--provider-address=x:1"]).anonymous_auth is False
    assert settings.parse(["--provider-address=x:1", "--anonymous-auth"]).anonymous_auth is True
    with pytest.raises(SystemExit):
        settings.parse(["--provider-address=x:1", "--tls-cert-file=a.crt"])
    with pytest.raises(SystemExit):
        settings.parse(["--provider-address=x:1", "--anonymous-auth=maybe"])

"""TLS files re-read for rotation: a change is seen once, only when every file is a complete PEM document."""

from __future__ import annotations

from pathlib import Path

import pytest

from vk_harness.pki import CertificateAuthority
from vk_provider_sdk.pemfiles import PemFiles, certificate_fingerprint


def test_a_change_is_answered_once_and_a_half_written_file_waits(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    first, second = ca.issue("a", common_name="a", client=True), ca.issue("b", common_name="b", client=True)
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(first.cert_pem)
    key.write_bytes(first.key_pem)
    files = PemFiles([cert, key, None])
    assert files.current == (first.cert_pem, first.key_pem, None)
    assert files.changed() is None

    cert.write_bytes(second.cert_pem[: len(second.cert_pem) // 2])  # a writer half-way through
    assert files.changed() is None
    cert.write_bytes(second.cert_pem)
    key.write_bytes(second.key_pem)
    assert files.changed() == (second.cert_pem, second.key_pem, None)
    assert files.changed() is None


def test_a_file_that_is_not_pem_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "bad.crt").write_text("not a certificate")
    with pytest.raises(ValueError, match="not a PEM file"):
        PemFiles([tmp_path / "bad.crt"])


def test_fingerprints_tell_certificates_apart(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    a, b = ca.issue("a", common_name="same", client=True), ca.issue("b", common_name="same", client=True)
    assert len(certificate_fingerprint(a.cert_pem)) == 64
    assert certificate_fingerprint(a.cert_pem) == certificate_fingerprint(a.cert_pem)
    assert certificate_fingerprint(a.cert_pem) != certificate_fingerprint(b.cert_pem)

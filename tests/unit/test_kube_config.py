"""Reading connection settings from kubeconfig files and from inside a pod."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from vk_controller.kube.config import ConfigError, from_kubeconfig, in_cluster


def _write(path: Path, user: dict[str, object], **cluster: object) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443/", **cluster}}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "ctx",
            }
        )
    )
    return path


def test_inline_certificate_data_is_decoded(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "config",
        {"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key-data": "S0VZ"},
        **{"certificate-authority-data": base64.b64encode(b"CA").decode()},
    )

    config = from_kubeconfig(path)

    assert config.server == "https://10.0.0.1:6443"
    assert (config.ca_pem, config.client_cert_pem, config.client_key_pem) == (b"CA", b"CERT", b"KEY")


def test_file_references_are_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "token").write_text("secret-token\n")
    path = _write(tmp_path / "config", {"tokenFile": "token"}, **{"certificate-authority": "ca.crt"})

    config = from_kubeconfig(path)

    assert config.ca_pem == b"CA"
    assert config.token_file == tmp_path / "token"


def test_exec_credentials_are_refused_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "config", {"exec": {"command": "aws"}})

    with pytest.raises(ConfigError, match="exec and auth-provider credentials are not supported"):
        from_kubeconfig(path)


def test_a_missing_context_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "config", {"token": "t"})

    with pytest.raises(ConfigError, match="no context named 'elsewhere'"):
        from_kubeconfig(path, context="elsewhere")


def test_in_cluster_needs_the_service_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(ConfigError, match="not running in a pod"):
        in_cluster(tmp_path)


def test_in_cluster_reads_the_service_account(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t")
    (tmp_path / "ca.crt").write_bytes(b"CA")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    config = in_cluster(tmp_path)

    assert config.server == "https://[fd00::1]:443"
    assert config.token_file == tmp_path / "token"

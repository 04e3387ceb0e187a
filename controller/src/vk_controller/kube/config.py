"""Connection settings for the API server: from a kubeconfig file or from inside a pod.

Supported kubeconfig user credentials are the ones a kubelet uses: client certificates (files or inline data) and
bearer tokens (inline or a token file, re-read when it changes, as projected service-account tokens rotate).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """The settings cannot be used; the message says which field is wrong."""


@dataclass(frozen=True)
class KubeConfig:
    server: str
    ca_pem: bytes | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    token: str | None = None
    token_file: Path | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_pem is not None:
            context = ssl.create_default_context(cadata=self.ca_pem.decode())
        if self.insecure_skip_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert_pem is not None and self.client_key_pem is not None:
            # The ssl module loads keys only from files: write them to a private directory and remove it at once.
            with tempfile.TemporaryDirectory(prefix="vk-tls-") as tmp:
                cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
                cert.write_bytes(self.client_cert_pem)
                key.touch(mode=0o600)
                key.write_bytes(self.client_key_pem)
                context.load_cert_chain(str(cert), str(key))
        return context


def _read(base: Path, entry: dict[str, Any], file_key: str, data_key: str) -> bytes | None:
    if entry.get(data_key):
        return base64.b64decode(entry[data_key])
    if entry.get(file_key):
        path = Path(entry[file_key])
        return (path if path.is_absolute() else base / path).read_bytes()
    return None


def _named(config: dict[str, Any], section: str, name: str, path: Path) -> dict[str, Any]:
    for item in config.get(section) or []:
        if item.get("name") == name:
            value = item.get(section[:-1]) or {}
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {section} entry {name!r} is malformed")
            return value
    raise ConfigError(f"{path}: no {section[:-1]} named {name!r}")


def from_kubeconfig(path: Path, context: str | None = None) -> KubeConfig:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read kubeconfig {path}: {error}") from error
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: not a kubeconfig")
    context_name = context or config.get("current-context")
    if not context_name:
        raise ConfigError(f"{path}: no current-context and none given")
    ctx = _named(config, "contexts", context_name, path)
    cluster = _named(config, "clusters", ctx.get("cluster", ""), path)
    user = _named(config, "users", ctx.get("user", ""), path) if ctx.get("user") else {}
    if not cluster.get("server"):
        raise ConfigError(f"{path}: cluster {ctx.get('cluster')!r} has no server")
    if user.get("exec") or user.get("auth-provider"):
        raise ConfigError(f"{path}: exec and auth-provider credentials are not supported; use a certificate or token")
    base = path.parent
    token_file = user.get("tokenFile")
    return KubeConfig(
        server=str(cluster["server"]).rstrip("/"),
        ca_pem=_read(base, cluster, "certificate-authority", "certificate-authority-data"),
        client_cert_pem=_read(base, user, "client-certificate", "client-certificate-data"),
        client_key_pem=_read(base, user, "client-key", "client-key-data"),
        token=user.get("token"),
        token_file=(base / token_file) if token_file else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name"),
    )


def in_cluster(directory: Path = IN_CLUSTER_DIR) -> KubeConfig:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise ConfigError("no --kubeconfig given and not running in a pod (KUBERNETES_SERVICE_HOST is unset)")
    if ":" in host:
        host = f"[{host}]"
    token_file = directory / "token"
    if not token_file.exists():
        raise ConfigError(f"running in a pod but {token_file} does not exist")
    return KubeConfig(
        server=f"https://{host}:{port}", ca_pem=(directory / "ca.crt").read_bytes(), token_file=token_file
    )


def load_config(kubeconfig: str | None, context: str | None = None) -> KubeConfig:
    """``--kubeconfig`` when given, else the in-cluster service account."""
    if kubeconfig:
        return from_kubeconfig(Path(kubeconfig).expanduser(), context)
    return in_cluster()

"""Resolving what a pod references: env sources, volume files, tokens, pull secrets, missing references."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from vk_controller.pods.resolved import ResolvedEnvVar
from vk_controller.pods.resolver import MissingReference, Resolver


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Objects:
    """The objects of one namespace, as an ObjectReader over plain dicts."""

    def __init__(self, config_maps: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> None:
        self.config_maps = config_maps or {}
        self.secrets = secrets or {}
        self.token_requests: list[tuple[str, str | None, int]] = []

    async def config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.config_maps.get(name)

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get(name)

    async def services(self, namespace: str) -> list[dict[str, Any]]:
        if namespace == "default":
            return [
                {
                    "metadata": {"name": "kubernetes", "namespace": "default"},
                    "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]},
                }
            ]
        return []

    async def service_account_token(
        self, namespace: str, service_account: str, *, pod: dict[str, Any], audience: str | None, seconds: int
    ) -> str:
        self.token_requests.append((service_account, audience, seconds))
        return f"token-for-{pod['metadata']['uid']}"


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}], **spec},
    }


async def test_env_from_config_maps_and_secrets_with_prefix() -> None:
    objects = Objects(
        config_maps={"cfg": {"data": {"MODE": "fast", "bad key": "skipped"}}},
        secrets={"creds": {"data": {"PASSWORD": b64("s3cret")}}},
    )
    container = {
        "name": "main",
        "image": "busybox",
        "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "creds"}, "prefix": "DB_"}],
        "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}}],
    }

    resolved = await Resolver(objects).resolve(pod(containers=[container]))

    assert list(resolved.env["main"]) == [
        ResolvedEnvVar("MODE", "fast"),
        ResolvedEnvVar("DB_PASSWORD", "s3cret", sensitive=True),
        ResolvedEnvVar("TOKEN", "s3cret", sensitive=True),
    ]


async def test_a_missing_mandatory_config_map_is_named_and_an_optional_one_skipped() -> None:
    mandatory = {
        "name": "main",
        "image": "b",
        "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}],
    }
    optional = {
        "name": "main",
        "image": "b",
        "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k", "optional": True}}}],
    }

    with pytest.raises(MissingReference, match='configmap "gone" not found'):
        await Resolver(Objects()).resolve(pod(containers=[mandatory]))
    resolved = await Resolver(Objects()).resolve(pod(containers=[optional]))
    assert list(resolved.env["main"]) == []


async def test_the_kube_api_access_volume_gets_a_bound_token_the_ca_and_the_namespace() -> None:
    objects = Objects(config_maps={"kube-root-ca.crt": {"data": {"ca.crt": "PEM"}}})
    volume = {
        "name": "kube-api-access-x",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }

    resolved = await Resolver(objects).resolve(pod(volumes=[volume]))

    files = {f.path: f for f in resolved.files["kube-api-access-x"].files}
    assert files["token"].content == b"token-for-u-1"
    assert files["token"].sensitive
    assert files["ca.crt"].content == b"PEM"
    assert files["namespace"].content == b"ns"
    assert {f.mode for f in files.values()} == {0o644}
    assert objects.token_requests == [("default", None, 3607)]


async def test_secret_volume_items_and_modes() -> None:
    objects = Objects(secrets={"tls": {"data": {"tls.crt": b64("CERT"), "tls.key": b64("KEY")}}})
    volume = {
        "name": "certs",
        "secret": {
            "secretName": "tls",
            "defaultMode": 0o400,
            "items": [{"key": "tls.key", "path": "k", "mode": 0o600}],
        },
    }

    resolved = await Resolver(objects).resolve(pod(volumes=[volume]))

    (only,) = resolved.files["certs"].files
    assert (only.path, only.content, only.mode, only.sensitive) == ("k", b"KEY", 0o600, True)


async def test_pull_secrets_become_registry_credentials() -> None:
    config = {"auths": {"registry.example.com": {"username": "u", "password": "p"}}}
    objects = Objects(secrets={"pull": {"data": {".dockerconfigjson": b64(json.dumps(config))}}})

    resolved = await Resolver(objects).resolve(pod(imagePullSecrets=[{"name": "pull"}]))

    assert [(c.server, c.username, c.password) for c in resolved.pull_credentials or []] == [
        ("registry.example.com", "u", "p")
    ]


async def test_service_links_include_the_api_server() -> None:
    resolved = await Resolver(Objects()).resolve(pod())

    assert resolved.service_env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert resolved.service_env["KUBERNETES_SERVICE_PORT"] == "443"
    assert resolved.service_env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1"

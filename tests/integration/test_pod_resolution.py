"""The controller hands the provider a fully resolved pod, as the kubelet hands its runtime one.

Each check reads what the provider received: the mock's backend records the pod exactly as CreatePod and
UpdatePod delivered it.
"""

from __future__ import annotations

import base64
from typing import Any

from integration.stack_fixtures import Stack, wait_for

CANARY = "canary-value-5f1d9c"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _received(stack: Stack, name: str) -> dict[str, Any]:
    """The pod as the provider last received it."""
    uid = stack.must_pod(name)["metadata"]["uid"]
    record = wait_for("the provider to have the pod", lambda: stack.backend()["pods"].get(uid), timeout=30)
    pod: dict[str, Any] = record["pod"]
    return pod


def _env(pod: dict[str, Any], container: str = "main") -> dict[str, Any]:
    (found,) = [c for c in pod["containers"] if c["name"] == container]
    return {var["name"]: var for var in found.get("env", [])}


def _files(pod: dict[str, Any], volume: str) -> dict[str, str]:
    (found,) = [v for v in pod["volumes"] if v["name"] == volume]
    return {f["path"]: base64.b64decode(f.get("content", "")).decode() for f in found["files"].get("files", [])}


def _create(stack: Stack, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> None:
    stack.plane.rest.create(
        f"/api/v1/namespaces/{stack.namespace}/pods",
        {
            "metadata": {"name": name, "labels": labels or {}, "annotations": {"note": "hello"}},
            "spec": {"nodeName": stack.node, **spec},
        },
    )


def _config_map(stack: Stack, name: str, data: dict[str, str]) -> None:
    stack.plane.rest.create(
        f"/api/v1/namespaces/{stack.namespace}/configmaps", {"metadata": {"name": name}, "data": data}
    )


def _secret(stack: Stack, name: str, data: dict[str, str]) -> None:
    stack.plane.rest.create(
        f"/api/v1/namespaces/{stack.namespace}/secrets",
        {"metadata": {"name": name}, "data": {k: _b64(v) for k, v in data.items()}},
    )


def test_every_environment_source_reaches_the_provider(stack: Stack) -> None:
    _config_map(stack, "settings", {"mode": "fast", "LEVEL": "3"})
    _secret(stack, "creds", {"password": CANARY, "USER": "admin"})
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m"}},
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}, {"secretRef": {"name": "creds"}}],
        "env": [
            {"name": "PLAIN", "value": "plain"},
            {"name": "EXPANDED", "value": "$(PLAIN)-and-$$(PLAIN)-and-$(UNDEFINED)"},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "GONE", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k", "optional": True}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "NOTE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "ACCOUNT", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "CPU_LIMIT_M", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
            {"name": "MEM_REQUEST", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}},
            {"name": "MEM_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        ],
    }
    _create(stack, "env-pod", {"containers": [container]}, labels={"app": "shop"})
    stack.wait_ready_pod("env-pod")

    env = _env(_received(stack, "env-pod"))
    uid = stack.must_pod("env-pod")["metadata"]["uid"]

    values = {name: var.get("value") for name, var in env.items()}
    assert values["CFG_mode"] == "fast"
    assert values["CFG_LEVEL"] == "3"
    assert values["USER"] == "admin"
    assert values["PLAIN"] == "plain"
    assert values["EXPANDED"] == "plain-and-$(PLAIN)-and-$(UNDEFINED)"
    assert values["MODE"] == "fast"
    assert values["PASSWORD"] == CANARY
    assert env["PASSWORD"]["sensitive"] is True
    assert "GONE" not in env
    assert values["POD_NAME"] == "env-pod"
    assert values["POD_NAMESPACE"] == stack.namespace
    assert values["POD_UID"] == uid
    assert values["APP"] == "shop"
    assert values["NOTE"] == "hello"
    assert values["NODE"] == stack.node
    assert values["ACCOUNT"] == "default"
    assert env["POD_IP"]["runtime_value"] == "RUNTIME_VALUE_POD_IP"
    assert values["CPU_LIMIT_M"] == "500"
    assert values["MEM_REQUEST"] == str(64 * 1024 * 1024)
    assert values["MEM_LIMIT"] == str(512 * 1024**3), "an unset limit reads as the node's allocatable"
    assert values["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert values["KUBERNETES_SERVICE_PORT"] == "443"


def test_every_volume_type_reaches_the_provider(stack: Stack) -> None:
    _config_map(stack, "site", {"index.html": "<h1>hi</h1>", "robots.txt": "none"})
    _secret(stack, "tls", {"tls.key": "KEY"})
    volumes = [
        {"name": "site", "configMap": {"name": "site", "items": [{"key": "index.html", "path": "www/index.html"}]}},
        {"name": "tls", "secret": {"secretName": "tls", "defaultMode": 0o400}},
        {
            "name": "info",
            "downwardAPI": {
                "items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                ]
            },
        },
        {
            "name": "bundle",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "token", "audience": "vault", "expirationSeconds": 3600}},
                    {"configMap": {"name": "site", "items": [{"key": "robots.txt", "path": "robots.txt"}]}},
                ]
            },
        },
        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "volumeMounts": [{"name": v["name"], "mountPath": f"/{v['name']}"} for v in volumes],
    }
    _create(stack, "volume-pod", {"containers": [container], "volumes": volumes}, labels={"tier": "web"})
    stack.wait_ready_pod("volume-pod")

    pod = _received(stack, "volume-pod")

    assert _files(pod, "site") == {"www/index.html": "<h1>hi</h1>"}
    assert _files(pod, "tls") == {"tls.key": "KEY"}
    (tls,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    assert tls["files"]["files"][0]["mode"] == 0o400
    assert _files(pod, "info") == {"labels": 'tier="web"', "name": "volume-pod"}
    bundle = _files(pod, "bundle")
    assert bundle["robots.txt"] == "none"
    assert bundle["token"].count(".") == 2, "a JWT from the TokenRequest API"
    (scratch,) = [v for v in pod["volumes"] if v["name"] == "scratch"]
    assert "empty_dir" in scratch


def test_the_default_service_account_volume_works(stack: Stack) -> None:
    stack.create_pod("with-token")
    stack.wait_ready_pod("with-token")

    pod = _received(stack, "with-token")
    (access,) = [v for v in pod["volumes"] if v["name"].startswith("kube-api-access-")]
    files = _files(pod, access["name"])

    assert set(files) == {"token", "ca.crt", "namespace"}
    assert files["namespace"] == stack.namespace
    assert files["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")


def _missing_reference_pod(stack: Stack, name: str, kind: str, optional: bool) -> None:
    ref_key = "configMapKeyRef" if kind == "configmap" else "secretKeyRef"
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "env": [{"name": "X", "valueFrom": {ref_key: {"name": f"{name}-ref", "key": "k", "optional": optional}}}],
    }
    _create(stack, name, {"containers": [container]})


def _waiting_reason(stack: Stack, name: str) -> str | None:
    statuses = stack.must_pod(name)["status"].get("containerStatuses") or [{}]
    reason: str | None = statuses[0].get("state", {}).get("waiting", {}).get("reason")
    return reason


def test_missing_references_optional_run_and_mandatory_wait_until_created(stack: Stack) -> None:
    for kind in ("configmap", "secret"):
        _missing_reference_pod(stack, f"optional-{kind}", kind, optional=True)
        _missing_reference_pod(stack, f"mandatory-{kind}", kind, optional=False)

    for kind in ("configmap", "secret"):
        stack.wait_ready_pod(f"optional-{kind}")
        name = f"mandatory-{kind}"
        wait_for(
            f"{name} to wait on its {kind}",
            lambda: _waiting_reason(stack, name) == "CreateContainerConfigError",  # noqa: B023 - called at once
            timeout=30,
        )
        assert stack.must_pod(name)["status"]["phase"] == "Pending"
        events = wait_for(
            "the Event",
            lambda: [e for e in stack.events_for(name) if e["reason"] == "Failed"],  # noqa: B023 - called at once
            timeout=15,
        )
        assert f'{kind} "mandatory-{kind}-ref" not found' in events[0]["message"]

    _config_map(stack, "mandatory-configmap-ref", {"k": "v"})
    _secret(stack, "mandatory-secret-ref", {"k": "v"})
    for kind in ("configmap", "secret"):
        stack.wait_ready_pod(f"mandatory-{kind}")


def test_a_mounted_config_map_change_reaches_the_running_pod(stack: Stack) -> None:
    _config_map(stack, "live", {"setting": "one"})
    container = {"name": "main", "image": "busybox:1.36", "volumeMounts": [{"name": "live", "mountPath": "/etc/live"}]}
    _create(
        stack, "live-pod", {"containers": [container], "volumes": [{"name": "live", "configMap": {"name": "live"}}]}
    )
    stack.wait_ready_pod("live-pod")
    assert _files(_received(stack, "live-pod"), "live") == {"setting": "one"}

    stack.plane.rest.request(
        "PATCH",
        f"/api/v1/namespaces/{stack.namespace}/configmaps/live",
        {"data": {"setting": "two"}},
        content_type="application/merge-patch+json",
    )

    wait_for(
        "the new content at the provider",
        lambda: _files(_received(stack, "live-pod"), "live") == {"setting": "two"},
        timeout=30,
    )
    uid = stack.must_pod("live-pod")["metadata"]["uid"]
    assert stack.backend()["creates"][uid] == 1, "an update, not a re-creation"


def test_secret_values_never_reach_logs_or_events(stack: Stack) -> None:
    _secret(stack, "canary", {"value": CANARY})
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "env": [
            {"name": "A", "valueFrom": {"secretKeyRef": {"name": "canary", "key": "value"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "canary", "key": "missing-key"}}},
        ],
    }
    _create(stack, "canary-pod", {"containers": [container]})
    wait_for(
        "the pod to wait on its missing key",
        lambda: _waiting_reason(stack, "canary-pod") == "CreateContainerConfigError",
        timeout=30,
    )
    _create(stack, "canary-refused", {"hostNetwork": True, "containers": [{**container, "env": container["env"][:1]}]})
    stack.wait_phase("canary-refused", "Failed")

    events = stack.plane.rest.get(f"/api/v1/namespaces/{stack.namespace}/events")["items"]
    assert events, "the scan must have something to scan"
    assert not [e for e in events if CANARY in str(e)]
    log = stack.controller.process.log_path.read_text()
    assert log
    assert CANARY not in log


def test_dns_host_aliases_and_registry_credentials_reach_the_provider(stack: Stack) -> None:
    config = '{"auths": {"registry.example.com": {"username": "puller", "password": "' + CANARY + '"}}}'
    stack.plane.rest.create(
        f"/api/v1/namespaces/{stack.namespace}/secrets",
        {
            "metadata": {"name": "pull"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": _b64(config)},
        },
    )
    spec = {
        "containers": [{"name": "main", "image": "registry.example.com/app:1"}],
        "imagePullSecrets": [{"name": "pull"}],
        "dnsPolicy": "None",
        "dnsConfig": {
            "nameservers": ["10.0.0.10"],
            "searches": ["corp.example"],
            "options": [{"name": "ndots", "value": "2"}],
        },
        "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["db.local"]}],
    }
    _create(stack, "dns-pod", spec)
    stack.wait_ready_pod("dns-pod")

    pod = _received(stack, "dns-pod")

    assert pod["dns_config"]["nameservers"] == ["10.0.0.10"]
    assert pod["dns_config"]["searches"] == ["corp.example"]
    assert pod["dns_config"]["options"] == [{"name": "ndots", "value": "2"}]
    assert pod["host_aliases"] == [{"ip": "10.1.2.3", "hostnames": ["db.local"]}]
    (credential,) = pod["image_pull_credentials"]
    assert (credential["server"], credential["username"], credential["password"]) == (
        "registry.example.com",
        "puller",
        CANARY,
    )


def test_a_missing_mounted_config_map_is_a_failed_mount_until_it_appears(stack: Stack) -> None:
    container = {"name": "main", "image": "busybox:1.36", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]}
    _create(
        stack, "mount-waits", {"containers": [container], "volumes": [{"name": "cfg", "configMap": {"name": "later"}}]}
    )

    wait_for(
        "the pod to wait", lambda: _waiting_reason(stack, "mount-waits") == "CreateContainerConfigError", timeout=30
    )
    events = wait_for(
        "the FailedMount Event",
        lambda: [e for e in stack.events_for("mount-waits") if e["reason"] == "FailedMount"],
        timeout=15,
    )
    assert 'configmap "later" not found' in events[0]["message"]
    _config_map(stack, "later", {"a": "b"})
    stack.wait_ready_pod("mount-waits")
    assert _files(_received(stack, "mount-waits"), "cfg") == {"a": "b"}

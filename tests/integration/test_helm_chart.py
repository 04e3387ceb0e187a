"""The Helm chart ``charts/virtual-kubelet``: linted and rendered by the real helm, installed into the real control
plane, its identities used by a real controller, and its uninstall hook draining the node.

No kubelet runs the chart's pods in the harness. So where a pod of the chart would run, the test runs the same
command as a local process with the same identity: the controller with a token of the chart's ServiceAccount (and
the kubeconfig the chart's pod would build), the uninstall hook with a token of the hook's ServiceAccount.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from integration.stack_fixtures import Stack, controller_stack, wait_for
from vk_harness import ControlPlane, binaries
from vk_harness.processes import free_port
from vk_harness.rest import ApiError
from vk_harness.stack import start_mock_provider

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "virtual-kubelet"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

#: Values that make each provider choice complete, with credentials from a Secret where the provider takes any.
PROVIDERS: dict[str, list[str]] = {
    "mock": [],
    "aci": [
        "provider.type=aci",
        "provider.aci.subscriptionId=00000000-0000-0000-0000-000000000000",
        "provider.aci.resourceGroup=vk",
        "provider.aci.region=westeurope",
        "provider.credentials.existingSecret=azure-credentials",
    ],
    "fargate": [
        "provider.type=fargate",
        "provider.fargate.cluster=vk",
        "provider.fargate.region=eu-west-1",
        "provider.fargate.subnets={subnet-1,subnet-2}",
        "provider.fargate.securityGroups={sg-1}",
        "provider.fargate.executionRoleArn=arn:aws:iam::123456789012:role/vk-exec",
        "provider.fargate.logGroup=/vk/pods",
        "provider.credentials.existingSecret=aws-credentials",
    ],
    "custom": [
        "provider.type=custom",
        "provider.image.repository=registry.example/my-provider",
        "provider.image.tag=1.2.3",
        "provider.command={my-provider}",
        "provider.credentials.existingSecret=my-provider-credentials",
        "provider.credentials.keys={API_TOKEN}",
    ],
    "external": ["provider.type=external", "provider.address=my-provider.vk-system:50051"],
}

#: The Secret keys each provider's credentials are read from, by secretKeyRef.
CREDENTIAL_KEYS = {
    "mock": [],
    "aci": ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"],
    "fargate": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    "custom": ["API_TOKEN"],
    "external": [],
}

SECRET_LOOKING = re.compile(r"SECRET|KEY|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)


# -- helm ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Helm:
    binary: Path
    env: dict[str, str]

    def run(
        self, *args: str, kubeconfig: Path | None = None, check: bool = True, timeout: float = 180.0
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "KUBECONFIG": str(kubeconfig)} if kubeconfig else self.env
        result = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def start(self, *args: str, kubeconfig: Path, log: Path) -> subprocess.Popen[str]:
        with log.open("w") as out:
            return subprocess.Popen(
                [str(self.binary), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env={**self.env, "KUBECONFIG": str(kubeconfig)},
            )

    def template(self, *sets: str, release: str = "vk", namespace: str = "vk-system") -> list[dict[str, Any]]:
        out = self.run("template", release, str(CHART), "--namespace", namespace, *_set_args(sets)).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


def _set_args(sets: Sequence[str]) -> list[str]:
    return [arg for value in sets for arg in ("--set", value)]


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The harness's helm, with its cache, config and data kept in the test's own directory."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return Helm(binary=binaries.helm_binary(), env=env)


# -- rendered objects ------------------------------------------------------------------------------------------------


def _find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, rendered: {[d['metadata']['name'] for d in found]}"
    return found[0]


def _kinds(docs: list[dict[str, Any]], kind: str) -> list[str]:
    return sorted(d["metadata"]["name"] for d in docs if d["kind"] == kind)


def _containers(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    pod = _find(docs, "Deployment")["spec"]["template"]["spec"]
    return {c["name"]: c for c in pod["containers"]}


def _flag(container: dict[str, Any], flag: str) -> str | None:
    """The value of ``--flag=value`` in the container's arguments (``""`` for a bare ``--flag``)."""
    for arg in container.get("args", []):
        if arg == f"--{flag}":
            return ""
        if arg.startswith(f"--{flag}="):
            return str(arg.split("=", 1)[1])
    return None


# -- 1. lint and template ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_lint_passes_strict_for_every_provider(helm: Helm, provider: str) -> None:
    for mode in ("bootstrap", "rbac"):
        result = helm.run("lint", "--strict", str(CHART), *_set_args([*PROVIDERS[provider], f"identity.mode={mode}"]))
        assert "0 chart(s) failed" in result.stdout, result.stdout


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_provider_runs_as_sidecar_or_is_dialled_externally(helm: Helm, provider: str) -> None:
    docs = helm.template(*PROVIDERS[provider])
    containers = _containers(docs)
    controller = containers["controller"]
    assert controller["image"] == "ghcr.io/virtual-kubelet-py/vk-controller:0.1.0"  # tag: the chart's appVersion
    if provider == "external":
        assert set(containers) == {"controller"}
        assert _flag(controller, "provider-address") == "my-provider.vk-system:50051"
        return
    assert set(containers) == {"controller", "provider"}
    sidecar = containers["provider"]
    assert _flag(controller, "provider-address") == "127.0.0.1:50051"  # the pod's loopback only
    if provider == "custom":
        assert sidecar["image"] == "registry.example/my-provider:1.2.3"
        assert sidecar["command"] == ["my-provider"]
    else:
        assert sidecar["image"] == f"ghcr.io/virtual-kubelet-py/vk-provider-{provider}:0.1.0"
        assert sidecar["command"] == [f"vk-provider-{provider}"]
        assert _flag(sidecar, "listen") == "127.0.0.1:50051"
    if provider == "aci":
        assert _flag(sidecar, "subscription-id") == "00000000-0000-0000-0000-000000000000"
        assert _flag(sidecar, "region") == "westeurope"
    if provider == "fargate":
        assert _flag(sidecar, "subnets") == "subnet-1,subnet-2"
        assert _flag(sidecar, "security-groups") == "sg-1"
    secret_name = next((s.split("=", 1)[1] for s in PROVIDERS[provider] if ".existingSecret=" in s), None)
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in sidecar.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {key: {"name": secret_name, "key": key} for key in CREDENTIAL_KEYS[provider]}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_no_plain_secret_in_any_environment(helm: Helm, provider: str) -> None:
    docs = helm.template(*PROVIDERS[provider], "identity.mode=rbac")
    assert _kinds(docs, "Secret") == ["vk-virtual-kubelet-kubelet-tls"]  # only the generated serving certificate
    for container in _containers(docs).values():
        for env in container.get("env", []):
            if SECRET_LOOKING.search(env["name"]):
                assert "value" not in env, f"{container['name']}: {env['name']} is a plain value"
                assert "secretKeyRef" in env["valueFrom"], f"{container['name']}: {env['name']} not from a Secret"


@pytest.mark.parametrize(("leader_election", "replicas"), [(False, 1), (True, 1), (True, 3)])
def test_strategy_never_runs_two_active_controllers(helm: Helm, leader_election: bool, replicas: int) -> None:
    docs = helm.template(f"leaderElection.enabled={str(leader_election).lower()}", f"replicaCount={replicas}")
    deployment = _find(docs, "Deployment")
    controller = _containers(docs)["controller"]
    assert deployment["spec"]["replicas"] == replicas
    if leader_election:
        # Standbys wait on the node's Lease: a rolling update only ever adds a standby.
        assert deployment["spec"]["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        }
        assert _flag(controller, "leader-elect") == ""
        identity = next(e for e in controller["env"] if e["name"] == "VK_LEADER_ELECT_IDENTITY")
        assert identity["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    else:
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert _flag(controller, "leader-elect") is None
    pdb = _find(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_probes_use_the_plain_health_port_bound_in_the_pod(helm: Helm) -> None:
    controller = _containers(helm.template())["controller"]
    assert _flag(controller, "healthz-bind-address") == "0.0.0.0"  # noqa: S104 - the kubelet probes the pod IP
    ports = {p["name"]: p["containerPort"] for p in controller["ports"]}
    assert ports == {"kubelet-api": 10250, "healthz": 10248, "metrics": 10255}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert controller[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}


def test_optional_objects_and_certificate_sources(helm: Helm) -> None:
    plain = helm.template()
    for kind in ("NetworkPolicy", "Service", "ServiceMonitor"):
        assert _kinds(plain, kind) == [], f"{kind} rendered without being asked for"

    docs = helm.template(
        "networkPolicy.enabled=true",
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.additionalLabels.release=prometheus",
        "podDisruptionBudget.minAvailable=1",
        "kubeletAPI.tls.existingSecret=my-kubelet-tls",
    )
    selector = _find(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    policy = _find(docs, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == selector
    assert [rule["ports"][0]["port"] for rule in policy["ingress"]] == ["kubelet-api", "metrics", "healthz"]
    service = _find(docs, "Service", "vk-virtual-kubelet-metrics")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 10255, "targetPort": "metrics", "protocol": "TCP"}]
    monitor = _find(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["selector"]["matchLabels"] == selector
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics"}]
    assert _find(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    # A serving certificate of your own: no generated Secret, yours mounted.
    assert _kinds(docs, "Secret") == []
    volumes = {v["name"]: v for v in _find(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["kubelet-tls"]["secret"] == {"secretName": "my-kubelet-tls"}

    # Neither given nor generated: the controller makes its own self-signed certificate.
    own = helm.template("kubeletAPI.tls.generate=false")
    assert _kinds(own, "Secret") == []
    assert _flag(_containers(own)["controller"], "tls-cert-file") is None


def test_controller_and_hook_never_land_on_a_virtual_node(helm: Helm) -> None:
    docs = helm.template()
    away = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]}]}
            ]
        }
    }
    for workload in (_find(docs, "Deployment"), _find(docs, "Job")):
        assert workload["spec"]["template"]["spec"]["affinity"] == {"nodeAffinity": away}


def test_bootstrap_identity_may_only_request_the_node_certificate(helm: Helm) -> None:
    docs = helm.template("nodeName=vk-node-1")
    controller = _containers(docs)["controller"]
    assert _flag(controller, "bootstrap-kubeconfig") == "/etc/vk-controller/bootstrap/kubeconfig"
    assert _flag(controller, "cert-dir") == "/var/lib/vk-controller/pki"
    assert _flag(controller, "kubeconfig") == "/var/lib/vk-controller/kubeconfig"
    assert _kinds(docs, "ClusterRole") == ["vk-virtual-kubelet-bootstrap", "vk-virtual-kubelet-uninstall"]
    assert _find(docs, "ClusterRole", "vk-virtual-kubelet-bootstrap")["rules"] == [
        {
            "apiGroups": ["certificates.k8s.io"],
            "resources": ["certificatesigningrequests"],
            "verbs": ["create", "get", "list", "watch"],
        },
        {
            "apiGroups": ["certificates.k8s.io"],
            "resources": ["certificatesigningrequests/nodeclient"],
            "verbs": ["create"],
        },
    ]
    renewal = _find(docs, "ClusterRoleBinding", "vk-virtual-kubelet-node-renewal")
    assert renewal["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:node:vk-node-1"}
    ]
    kubeconfig = yaml.safe_load(_find(docs, "ConfigMap")["data"]["kubeconfig"])
    assert kubeconfig["users"][0]["user"] == {"tokenFile": f"{SA_DIR}/token"}
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": "https://kubernetes.default.svc",
        "certificate-authority": f"{SA_DIR}/ca.crt",
    }


def test_rbac_identity_grants_exactly_the_reference_rules(helm: Helm) -> None:
    docs = helm.template("identity.mode=rbac", "nodeName=vk-node-1")
    controller = _containers(docs)["controller"]
    for flag in ("bootstrap-kubeconfig", "cert-dir", "kubeconfig"):
        assert _flag(controller, flag) is None  # the in-cluster ServiceAccount credentials
    assert _kinds(docs, "ConfigMap") == []
    reference = [d for d in yaml.safe_load_all((ROOT / "deploy" / "rbac-mode-clusterrole.yaml").read_text()) if d]
    assert (
        _find(docs, "ClusterRole", "vk-virtual-kubelet-controller")["rules"] == _find(reference, "ClusterRole")["rules"]
    )
    lease = _find(docs, "Role", "vk-virtual-kubelet-lease")
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    granted = {(verb, tuple(rule.get("resourceNames", []))) for rule in lease["rules"] for verb in rule["verbs"]}
    assert granted == {("create", ()), ("get", ("vk-node-1",)), ("update", ("vk-node-1",))}


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["provider.type=foo"], "at '/provider/type': value must be one of 'mock', 'aci', 'fargate', 'custom'"),
        (["replicaCount=2"], "at '/replicaCount': maximum: got 2, want 1"),
        (["kubeletAPI.port=-1"], "at '/kubeletAPI/port': minimum: got -1, want 1"),
        (["metrics.port=70000"], "at '/metrics/port': maximum: got 70,000, want 65,535"),
        (["provider.type=external"], "at '/provider/address': minLength: got 0, want 1"),
        (["provider.type=aci"], "at '/provider/aci/subscriptionId': minLength: got 0, want 1"),
        (["identity.mode=admin"], "at '/identity/mode': value must be one of 'bootstrap', 'rbac'"),
        (["provider.credentials.plainPassword=hunter2"], "additional properties 'plainPassword' not allowed"),
    ],
)
def test_schema_rejects_wrong_values_clearly(helm: Helm, sets: list[str], message: str) -> None:
    result = helm.run("template", "vk", str(CHART), *_set_args(sets), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr


def test_uninstall_hook_runs_the_drain_with_its_own_narrow_rights(helm: Helm) -> None:
    docs = helm.template("nodeName=vk-node-1")
    job = _find(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "vk-virtual-kubelet-uninstall"
    assert pod["containers"][0]["image"] == _containers(docs)["controller"]["image"]
    assert pod["containers"][0]["command"][:4] == ["python", "-m", "vk_controller.drain", "--nodename=vk-node-1"]
    # The hook's pod is not one of the controller's: neither the Deployment nor the PDB selects it.
    selector = _find(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    rules = _find(docs, "ClusterRole", "vk-virtual-kubelet-uninstall")["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]},
        {
            "apiGroups": [""],
            "resources": ["nodes"],
            "resourceNames": ["vk-node-1"],
            "verbs": ["get", "patch", "delete"],
        },
    ]


# -- 2. install into the real control plane ----------------------------------------------------------------------


def _release(node_name: str) -> str:
    # Short enough that no name the chart derives (at most "-kubelet-tls" after "<release>-virtual-kubelet") reaches
    # the 63 characters where the chart truncates it; the node name's counter prefix keeps releases apart.
    return node_name[:30].rstrip("-")


def _exists(plane: ControlPlane, path: str) -> bool:
    try:
        plane.rest.get(path)
        return True
    except ApiError as error:
        if error.status == 404:
            return False
        raise


def _fullname(release: str) -> str:
    return f"{release}-virtual-kubelet"


@contextlib.contextmanager
def _installed(helm: Helm, plane: ControlPlane, namespace: str, release: str, *sets: str) -> Iterator[str]:
    """``helm install`` (its output, NOTES included); afterwards ``helm uninstall --no-hooks`` unless the test
    uninstalled the release itself."""
    installed = helm.run(
        "install", release, str(CHART), "--namespace", namespace, *_set_args(sets), kubeconfig=plane.admin.kubeconfig
    )
    try:
        yield installed.stdout
    finally:
        listed = helm.run("list", "--namespace", namespace, "-q", kubeconfig=plane.admin.kubeconfig).stdout.split()
        if release in listed:
            helm.run("uninstall", release, "--namespace", namespace, "--no-hooks", kubeconfig=plane.admin.kubeconfig)


def _token_kubeconfig(plane: ControlPlane, path: Path, namespace: str, service_account: str) -> Path:
    """A kubeconfig with a token of ``service_account`` (TokenRequest), as its pod's projected token would be."""
    token = plane.kubectl("create", "token", service_account, "--namespace", namespace, "--duration=1h").stdout
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cluster",
                "cluster": {
                    "server": plane.server,
                    "certificate-authority-data": base64.b64encode(plane.ca.cert_pem).decode(),
                },
            }
        ],
        "users": [{"name": service_account, "user": {"token": token.strip()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "cluster", "user": service_account}}],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def _chart_identity_args(
    docs: list[dict[str, Any]], plane: ControlPlane, workdir: Path, namespace: str, release: str
) -> list[str]:
    """The controller's credential flags as the chart's pod has them, with the pod's files made locally: in rbac
    mode a kubeconfig of the ServiceAccount's token (what in-cluster config reads); in bootstrap mode the chart's
    bootstrap kubeconfig (its ConfigMap) with the pod's token and CA files, and the Deployment's --cert-dir and
    --kubeconfig moved into ``workdir``."""
    controller = _containers(docs)["controller"]
    bootstrap_path = _flag(controller, "bootstrap-kubeconfig")
    if bootstrap_path is None:
        return [f"--kubeconfig={_token_kubeconfig(plane, workdir / 'sa.kubeconfig', namespace, _fullname(release))}"]
    token = plane.kubectl("create", "token", _fullname(release), "--namespace", namespace, "--duration=1h").stdout
    pod_files = {f"{SA_DIR}/token": token.strip(), f"{SA_DIR}/ca.crt": plane.ca.cert_pem.decode()}
    text = _find(docs, "ConfigMap", f"{_fullname(release)}-bootstrap-kubeconfig")["data"]["kubeconfig"]
    for pod_path, content in pod_files.items():
        local = workdir / "pod-files" / Path(pod_path).name
        local.parent.mkdir(exist_ok=True)
        local.write_text(content)
        assert pod_path in text, f"the bootstrap kubeconfig does not use {pod_path}"
        text = text.replace(pod_path, str(local))
    local_bootstrap = workdir / "bootstrap.kubeconfig"
    local_bootstrap.write_text(text)
    state = workdir / "state"
    moved = {bootstrap_path: str(local_bootstrap), "/var/lib/vk-controller": str(state)}
    args = []
    for flag in ("bootstrap-kubeconfig", "cert-dir", "kubeconfig"):
        value = _flag(controller, flag)
        assert value is not None, f"the chart's controller has no --{flag}"
        for pod_path, local_path in moved.items():
            value = value.replace(pod_path, local_path)
        args.append(f"--{flag}={value}")
    return args


@contextlib.contextmanager
def _chart_controller(
    docs: list[dict[str, Any]], plane: ControlPlane, workdir: Path, namespace: str, node_name: str
) -> Iterator[Stack]:
    """The chart's pod as local processes: the mock sidecar listening where the chart has it listen, and
    vk-controller dialling the chart's provider address with the chart's credentials (see
    :func:`_chart_identity_args`); waited for until the Node is Ready."""
    containers = _containers(docs)
    listen = _flag(containers["provider"], "listen")
    address = _flag(containers["controller"], "provider-address")
    assert listen is not None, "the chart's sidecar has no --listen"
    assert listen == address, f"the controller dials {address}, the sidecar listens on {listen}"
    host, _, port = listen.rpartition(":")
    controller_args = _chart_identity_args(docs, plane, workdir, namespace, _release(node_name))
    provider = start_mock_provider(workdir, state_file=workdir / "mock-backend.json", host=host, port=int(port))
    try:
        # Later flags win: --kubeconfig is the chart identity's.
        with controller_stack(
            plane, workdir, namespace, node_name, provider, extra_args=tuple(controller_args)
        ) as stack:
            yield stack
    finally:
        provider.process.stop()


def test_install_creates_the_release_objects(
    helm: Helm, control_plane: ControlPlane, namespace: str, node_name: str
) -> None:
    release = _release(node_name)
    name = _fullname(release)
    plane = control_plane
    with _installed(helm, plane, namespace, release, f"nodeName={node_name}") as output:
        # NOTES: how to check the node and run a first pod on it (tolerating the node's taint).
        assert f"kubectl get node {node_name} -o wide" in output
        assert f"kubernetes.io/hostname: {node_name}" in output
        assert "key: virtual-kubelet.io/provider" in output
        ns = f"/api/v1/namespaces/{namespace}"
        for path in (
            f"{ns}/serviceaccounts/{name}",
            f"{ns}/serviceaccounts/{name}-uninstall",
            f"{ns}/configmaps/{name}-bootstrap-kubeconfig",
            f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/{name}",
            f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}-bootstrap",
            f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}-bootstrap",
            f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}-node-renewal",
            f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}-uninstall",
            f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}-uninstall",
        ):
            assert _exists(plane, path), f"{path} was not created"
        deployment = plane.rest.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert f"--nodename={node_name}" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        # No hook ran at install: the uninstall Job exists only while an uninstall runs.
        assert not _exists(plane, f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}-uninstall")

        secret = plane.rest.get(f"{ns}/secrets/{name}-kubelet-tls")
        assert secret["type"] == "kubernetes.io/tls"
        cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [node_name]
        # An upgrade keeps the serving certificate (it is generated only once).
        helm.run(
            "upgrade",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--reuse-values",
            "--set",
            "controller.logLevel=debug",
            kubeconfig=plane.admin.kubeconfig,
        )
        assert plane.rest.get(f"{ns}/secrets/{name}-kubelet-tls")["data"] == secret["data"]
    for path in (
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}-bootstrap",
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}-node-renewal",
        f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
    ):
        assert not _exists(plane, path), f"{path} left after uninstall"


# -- 3. the controller with the chart's identity -----------------------------------------------------------------


def test_rbac_mode_controller_runs_pods_as_the_chart_service_account(
    helm: Helm, control_plane: ControlPlane, namespace: str, node_name: str, tmp_path: Path
) -> None:
    plane = control_plane
    release = _release(node_name)
    sets = (f"nodeName={node_name}", "identity.mode=rbac", f"provider.port={free_port()}")
    docs = helm.template(*sets, release=release, namespace=namespace)
    with _installed(helm, plane, namespace, release, *sets):
        try:
            with _chart_controller(docs, plane, tmp_path, namespace, node_name) as stack:
                lease = plane.rest.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node_name}")
                assert lease["spec"]["holderIdentity"]
                stack.create_pod("hello", command=["sleep", "3600"])
                pod = stack.wait_phase("hello", "Running")
                assert pod["spec"]["nodeName"] == node_name
                assert set(stack.backend()["pods"]) == {pod["metadata"]["uid"]}
                # The sidecar's liveness probe, as its container would run it: passes, then fails once it stops.
                probe = _containers(docs)["provider"]["livenessProbe"]["exec"]["command"]
                argv = [sys.executable if probe[0] == "python" else probe[0], *probe[1:]]
                assert subprocess.run(argv, capture_output=True, timeout=60, check=False).returncode == 0
                stack.provider.process.stop()
                assert subprocess.run(argv, capture_output=True, timeout=60, check=False).returncode != 0
        finally:
            with contextlib.suppress(ApiError):
                plane.rest.delete(f"/api/v1/nodes/{node_name}")


def test_bootstrap_mode_controller_acts_as_its_node_after_the_csr(
    helm: Helm, isolated_control_plane: Any, node_name: str, tmp_path: Path
) -> None:
    plane: ControlPlane = isolated_control_plane()
    plane.start_controller_manager(controllers="csrapproving,csrsigning")  # the cluster's approver and signer
    namespace = plane.create_namespace("vk-system")
    release = _release(node_name)
    sets = (f"nodeName={node_name}", f"identity.bootstrap.apiServer={plane.server}", f"provider.port={free_port()}")
    docs = helm.template(*sets, release=release, namespace=namespace)
    with (
        _installed(helm, plane, namespace, release, *sets),
        _chart_controller(docs, plane, tmp_path, namespace, node_name) as stack,
    ):
        csrs = plane.rest.get("/apis/certificates.k8s.io/v1/certificatesigningrequests")["items"]
        issued = [c for c in csrs if c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"]
        assert [c["spec"]["username"] for c in issued] == [f"system:serviceaccount:{namespace}:{_fullname(release)}"]
        assert {c["type"] for c in issued[0]["status"]["conditions"]} == {"Approved"}
        # The controller acts as its node: the kubeconfig it wrote holds the node's certificate.
        written = yaml.safe_load((tmp_path / "state" / "kubeconfig").read_text())
        user = written["users"][0]["user"]
        pem = (
            base64.b64decode(user["client-certificate-data"])
            if "client-certificate-data" in user
            else Path(user["client-certificate"]).read_bytes()
        )
        subject = x509.load_pem_x509_certificate(pem).subject
        assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [f"system:node:{node_name}"]
        assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:nodes"]
        stack.create_pod("hello", command=["sleep", "3600"])
        assert stack.wait_phase("hello", "Running")["spec"]["nodeName"] == node_name


# -- 4. uninstall: the pre-delete hook drains the node -----------------------------------------------------------


def _wait_object(plane: ControlPlane, path: str, what: str, timeout: float = 60.0) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = plane.rest.get(path)
            return found
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    return wait_for(what, probe, timeout=timeout)


@pytest.mark.parametrize("mode", ["bootstrap", "rbac"])
def test_uninstall_drains_the_node_and_leaves_nothing_billable(
    helm: Helm, isolated_control_plane: Any, node_name: str, tmp_path: Path, mode: str
) -> None:
    plane: ControlPlane = isolated_control_plane()
    # The job controller creates the hook Job's pod (no kubelet runs it); the CSR approver and signer serve bootstrap.
    plane.start_controller_manager(controllers="job,csrapproving,csrsigning")
    namespace = plane.create_namespace("vk-system")
    release = _release(node_name)
    name = _fullname(release)
    sets = (
        f"nodeName={node_name}",
        f"identity.mode={mode}",
        f"identity.bootstrap.apiServer={plane.server}",
        "uninstall.pollInterval=1",
        f"provider.port={free_port()}",
    )
    docs = helm.template(*sets, release=release, namespace=namespace)
    rendered = _find(docs, "Job")
    with _installed(helm, plane, namespace, release, *sets):
        with _chart_controller(docs, plane, tmp_path, namespace, node_name) as stack:
            uids = set()
            for pod_name in ("web-1", "web-2"):
                stack.create_pod(pod_name, command=["sleep", "3600"], terminationGracePeriodSeconds=1)
                uids.add(stack.wait_phase(pod_name, "Running")["metadata"]["uid"])
            stack.backend_with_exactly(uids)

            uninstall = helm.start(
                "uninstall", release, "--namespace", namespace, "--timeout=300s",
                kubeconfig=plane.admin.kubeconfig, log=tmp_path / "helm-uninstall.log",
            )  # fmt: skip
            try:
                job = _wait_object(
                    plane, f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}-uninstall", "the hook Job"
                )
                spec = job["spec"]["template"]["spec"]
                assert (
                    spec["containers"][0]["command"] == rendered["spec"]["template"]["spec"]["containers"][0]["command"]
                )
                # Run the hook's container as its pod would: the same command, the hook ServiceAccount's token.
                command = spec["containers"][0]["command"]
                hook_kubeconfig = _token_kubeconfig(
                    plane, tmp_path / "hook.kubeconfig", namespace, spec["serviceAccountName"]
                )
                argv = [sys.executable if command[0] == "python" else command[0], *command[1:]]
                drained = subprocess.run(
                    argv, env={**os.environ, "KUBECONFIG": str(hook_kubeconfig)}, capture_output=True, text=True,
                    timeout=300, check=False,
                )  # fmt: skip
                assert drained.returncode == 0, drained.stderr
                # The provider released every pod before the Node went.
                assert stack.backend()["pods"] == {}
                bound = plane.rest.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{node_name}")["items"]
                assert bound == []
                assert not _exists(plane, f"/api/v1/nodes/{node_name}")

                # Report the hook pod's success as its kubelet would; helm then deletes the release.
                hook_pod = wait_for(
                    "the hook Job's pod",
                    lambda: plane.rest.get(
                        f"/api/v1/namespaces/{namespace}/pods?labelSelector=job-name%3D{name}-uninstall"
                    )["items"],
                    timeout=60,
                )[0]
                plane.rest.request(
                    "PATCH",
                    f"/api/v1/namespaces/{namespace}/pods/{hook_pod['metadata']['name']}/status",
                    {"status": {"phase": "Succeeded"}},
                    content_type="application/merge-patch+json",
                )
                assert uninstall.wait(timeout=300) == 0, (tmp_path / "helm-uninstall.log").read_text()
            finally:
                if uninstall.poll() is None:
                    uninstall.kill()
                    uninstall.wait()
            for path in (
                f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
                f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}-uninstall",
                f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}-controller",
                f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}-uninstall",
                f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}-uninstall",  # hook-succeeded: deleted
            ):
                assert not _exists(plane, path), f"{path} left after uninstall"
        # The controller stopped (as the deleted Deployment's pod would): nothing brought the Node back.
        assert not _exists(plane, f"/api/v1/nodes/{node_name}")


def test_drain_gives_up_naming_the_pods_left_and_keeps_the_node(
    control_plane: ControlPlane, namespace: str, node_name: str
) -> None:
    """No controller finishes the deletions here (nothing runs for the node): the hook must fail loudly, naming the
    pods that would be left billing, and keep the Node so a controller can still finish them."""
    plane = control_plane
    plane.rest.create("/api/v1/nodes", {"metadata": {"name": node_name}})
    try:
        plane.rest.create(
            f"/api/v1/namespaces/{namespace}/pods",
            {
                "metadata": {"name": "stuck"},
                "spec": {"nodeName": node_name, "containers": [{"name": "main", "image": "busybox:1.36"}]},
            },
        )
        drained = subprocess.run(
            [
                sys.executable,
                "-m",
                "vk_controller.drain",
                f"--nodename={node_name}",
                "--timeout=1",
                "--poll-interval=1",
            ],
            env={**os.environ, "KUBECONFIG": str(plane.admin.kubeconfig)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert drained.returncode == 1, drained.stderr
        assert f"pods still bound to {node_name}: {namespace}/stuck" in drained.stderr
        node = plane.rest.get(f"/api/v1/nodes/{node_name}")
        assert node["spec"]["unschedulable"] is True  # cordoned all the same
        assert plane.rest.get(f"/api/v1/namespaces/{namespace}/pods/stuck")["metadata"]["deletionTimestamp"]
    finally:
        plane.rest.delete(f"/api/v1/nodes/{node_name}")

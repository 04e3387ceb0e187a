"""docker-compose.yml, proven without a Docker engine: it validates, and its default topology runs as processes.

The twin reads the compose file and starts each service of the default profile in the order its ``depends_on``
gives, with the service's own command line and environment. The differences are an explicit table, nothing else:

- programs: ``etcd`` and ``kube-apiserver`` are the harness's builds of the same programs (the images' versions may
  differ by a patch release), ``python`` is this interpreter, and an image's ENTRYPOINT (read from its Dockerfile)
  is the workspace's console script of that name (test_images.py checks the image installs the same one);
- addresses (:data:`ADDRESS_MAP`): service names and container addresses become 127.0.0.1, and fixed ports become
  free ones, so the twin runs beside anything else on this machine;
- paths: the volumes' mount points become directories of the test.

Health waits use the same probes where the harness has the program (the images' HEALTHCHECKs); etcd's
``etcdctl endpoint health`` becomes a GET of the ``/health`` endpoint it calls. Then the developer's view, as the
README describes it: ``kubectl get nodes`` with the admin kubeconfig the stack writes for the host shows the virtual
node Ready, and the example pod runs and shows its logs (the API server reaching the controller's kubelet API at
the address and with the certificates the compose file configures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.dockerfiles import parse
from integration.stack_fixtures import wait_for
from vk_harness import binaries
from vk_harness.processes import Process, free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
NODE = "vk-mock"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def test_compose_file_validates() -> None:
    """The file as docker-compose 1.29 reads it (Compose v2 accepts what it does); scripts/test installs it."""
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is needed to validate docker-compose.yml (scripts/test installs it)"
    for profiles in ([], ["--profile", "fargate"], ["--profile", "aci"]):
        result = subprocess.run(
            [compose, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *profiles, "config", "-q"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{profiles}: {result.stderr}"


def _default_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in compose["services"].items() if not spec.get("profiles")}


def _start_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """Services in an order that starts each after what it depends on."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"depends_on cycle: {' -> '.join((*path, name))}"
        if name in order:
            return
        for dependency in _dependencies(services[name]):
            visit(dependency, (*path, name))
        order.append(name)

    for name in services:
        visit(name, ())
    return order


def _dependencies(spec: dict[str, Any]) -> dict[str, str]:
    """``depends_on`` as {service: condition} (the list form means service_started)."""
    depends = spec.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: value.get("condition", "service_started") for name, value in depends.items()}


def _dockerfile(spec: dict[str, Any]) -> Path | None:
    """The Dockerfile of the service's image when this repository builds it (here or in another service)."""
    builders = [s for s in _compose()["services"].values() if s.get("image") == spec.get("image") and "build" in s]
    build = spec.get("build") or (builders[0]["build"] if builders else None)
    return ROOT / build["dockerfile"] if build else None


def _entrypoint(spec: dict[str, Any]) -> list[str]:
    """The service's entrypoint: its own, else its image's ENTRYPOINT; none for the etcd and kube-apiserver images,
    whose command names the program."""
    if "entrypoint" in spec:
        return list(spec["entrypoint"])
    dockerfile = _dockerfile(spec)
    return parse(dockerfile)[-1].last("ENTRYPOINT").exec_form() if dockerfile else []


def _healthcheck(spec: dict[str, Any]) -> list[str] | None:
    """The service's health probe: the compose file's, else its image's HEALTHCHECK."""
    if "healthcheck" in spec:
        test: list[str] = spec["healthcheck"]["test"]
        assert test[0] == "CMD", test
        return test[1:]
    dockerfile = _dockerfile(spec)
    return parse(dockerfile)[-1].last("HEALTHCHECK").exec_form() if dockerfile else None


class Twin:
    """The compose topology as local processes under ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.compose = _compose()
        self.ports = {name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "provider", "kubelet")}
        self.ports |= {"healthz": free_port(), "metrics": free_port()}
        api = f"127.0.0.1:{self.ports['apiserver']}"
        provider = f"127.0.0.1:{self.ports['provider']}"
        #: Compose text -> local text, applied to every argument and environment value, in this order.
        self.address_map: list[tuple[str, str]] = [
            ("http://etcd:2379", f"http://127.0.0.1:{self.ports['etcd']}"),
            ("http://0.0.0.0:2379", f"http://127.0.0.1:{self.ports['etcd']}"),
            ("http://127.0.0.1:2380", f"http://127.0.0.1:{self.ports['etcd-peer']}"),
            ("https://kube-apiserver:6443", f"https://{api}"),
            ("https://127.0.0.1:6443", f"https://{api}"),
            ("--secure-port=6443", f"--secure-port={self.ports['apiserver']}"),
            ("--bind-address=0.0.0.0", "--bind-address=127.0.0.1"),
            ("mock-provider:50051", provider),
            ("0.0.0.0:50051", provider),
            ("172.28.0.2", "127.0.0.1"),
            ("172.28.0.10", "127.0.0.1"),
            ("/var/lib/etcd", str(workdir / "etcd")),
            ("/pki", str(workdir / "pki")),
            ("/compose", str(ROOT / "compose")),
        ]
        #: Whole environment values that are ports or listen addresses of the controller.
        self.env_map = {
            "VK_KUBELET_ADDRESS": "127.0.0.1",
            "VK_KUBELET_PORT": str(self.ports["kubelet"]),
            "VK_HEALTHZ_PORT": str(self.ports["healthz"]),
            "VK_METRICS_PORT": str(self.ports["metrics"]),
            "VK_METRICS_BIND_ADDRESS": "127.0.0.1",
        }
        self.programs: dict[str, Callable[[], str]] = {
            "etcd": lambda: str(binaries.etcd_binary()),
            "kube-apiserver": lambda: str(binaries.kubernetes_binary("kube-apiserver")),
            "python": lambda: sys.executable,
        }
        self.processes: list[Process] = []

    def translate(self, text: str) -> str:
        for compose_text, local in self.address_map:
            text = text.replace(compose_text, local)
        return text

    def argv(self, spec: dict[str, Any]) -> list[str]:
        argv = [*_entrypoint(spec), *(spec.get("command") or [])]
        program = self.programs.get(argv[0], lambda: _workspace_script(argv[0]))()
        return [program, *(self.translate(arg) for arg in argv[1:])]

    def env(self, spec: dict[str, Any]) -> dict[str, str]:
        env = dict(os.environ)
        for key, value in (spec.get("environment") or {}).items():
            env[key] = self.env_map.get(key, self.translate(str(value)))
        return env

    def health(self, name: str, spec: dict[str, Any]) -> Callable[[], bool]:
        probe = _healthcheck(spec)
        if probe is None:
            raise AssertionError(f"{name}: a service others wait on as healthy needs a health check")
        if probe[0] == "etcdctl":
            url = f"http://127.0.0.1:{self.ports['etcd']}/health"
            return lambda: _http_ok(url)
        argv = [self.programs.get(probe[0], lambda: probe[0])(), *probe[1:]]
        env = self.env(spec)
        return lambda: subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode == 0

    def up(self) -> None:
        services = _default_services(self.compose)
        waits = {dep: cond for spec in services.values() for dep, cond in _dependencies(spec).items()}
        for name in _start_order(services):
            spec = services[name]
            process = Process(name, self.argv(spec), log_path=self.workdir / f"{name}.log", env=self.env(spec))
            process.start()
            self.processes.append(process)
            condition = waits.get(name, "service_started")
            if condition == "service_completed_successfully":
                wait_for(f"{name} to finish", lambda p=process: not p.running(), timeout=300)  # type: ignore[misc]
                assert process.exit_code() == 0, f"{name} failed:\n{process.log_tail()}"
            elif condition == "service_healthy":
                healthy = self.health(name, spec)
                wait_for(f"{name} to be healthy", healthy, timeout=120, describe=process.log_tail)

    def down(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        kubectl = binaries.kubernetes_binary("kubectl")
        kubeconfig = self.workdir / "pki" / "admin-host.kubeconfig"
        return subprocess.run(
            [str(kubectl), f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, timeout=60
        )


def _workspace_script(name: str) -> str:
    """An image's ENTRYPOINT as the workspace installs it: the console script beside this interpreter."""
    script = Path(sys.executable).parent / name
    assert script.is_file(), f"{name} is not installed in the workspace environment"
    return str(script)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - the twin's own loopback etcd
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Twin]:
    running = Twin(tmp_path)
    try:
        running.up()
        yield running
    finally:
        running.down()


def _node_ready(twin: Twin) -> bool:
    result = twin.kubectl("get", "node", NODE, "-o", "json")
    if result.returncode != 0:
        return False
    conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_twin_runs_the_default_topology(twin: Twin) -> None:
    services = _default_services(twin.compose)
    assert {"etcd", "kube-apiserver", "pki", "cluster", "mock-provider", "controller"} <= set(services)
    for process in twin.processes:
        if process.name in ("etcd", "kube-apiserver", "mock-provider", "controller"):
            assert process.running(), f"{process.name} exited:\n{process.log_tail()}"

    controller = next(process for process in twin.processes if process.name == "controller")

    def ready() -> bool:
        assert controller.running(), f"the controller exited:\n{controller.log_tail()}"
        return _node_ready(twin)

    wait_for(f"node {NODE} Ready", ready, timeout=60, describe=controller.log_tail)
    nodes = twin.kubectl("get", "nodes")
    assert nodes.returncode == 0, nodes.stderr
    assert NODE in nodes.stdout

    applied = twin.kubectl("apply", "-f", str(ROOT / "examples" / "compose-pod.yaml"))
    assert applied.returncode == 0, applied.stderr

    def phase() -> str:
        result = twin.kubectl("get", "pod", "hello-compose", "-o", "jsonpath={.status.phase}")
        return result.stdout if result.returncode == 0 else ""

    wait_for("pod hello-compose Running", lambda: phase() == "Running", timeout=60, describe=phase)
    logs = wait_for(
        "the pod's logs", lambda: twin.kubectl("logs", "hello-compose").stdout or None, timeout=30, describe=phase
    )
    assert "hello from the compose stack" in logs

    healthcheck = twin.health("controller", services["controller"])
    assert healthcheck(), "the controller image's HEALTHCHECK passes with the compose settings"

    # `docker compose up` again reruns the one-shot pki service: it keeps the identities the stack runs with.
    ca = (twin.workdir / "pki" / "ca.crt").read_bytes()
    rerun = subprocess.run(twin.argv(services["pki"]), env=twin.env(services["pki"]), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert (twin.workdir / "pki" / "ca.crt").read_bytes() == ca

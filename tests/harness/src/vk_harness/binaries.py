"""Where the control-plane binaries come from: ``$KUBEBUILDER_ASSETS``, else a cache, else a build.

kube-apiserver, kubectl, etcd and helm are not packaged for Python, so they are built from the Go module proxy with
the machine's Go and kept in a cache outside the repository (``$VK_HARNESS_CACHE``, default
``~/.cache/vk-harness``). A build is keyed by the component, its pinned version and the Go version, so a second run
finds it and starts in seconds.

Kubernetes is built from ``k8s.io/kubernetes`` at a release tag. Its ``go.mod`` points the staging modules
(``k8s.io/api`` and friends) at ``./staging/...`` directories, and ``replace`` lines in a dependency are ignored, so
the build module writes its own ``replace`` lines to the published ``v0.<minor>.<patch>`` versions of each. etcd's
server module has no main package at its root: a three-line main calling ``etcdmain.Main`` builds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

KUBERNETES_VERSION = "1.36.3"
ETCD_VERSION = "3.6.16"
HELM_VERSION = "3.22.0"

KUBERNETES_COMPONENTS = ("kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler")

_ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""

_HELM_MAIN_PACKAGE = "helm.sh/helm/v3/cmd/helm"


class BuildError(RuntimeError):
    """A binary could not be built; the message carries the tail of the Go tool's output."""


def cache_root() -> Path:
    configured = os.environ.get("VK_HARNESS_CACHE")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "vk-harness"


def _log(message: str) -> None:
    print(f"[vk-harness] {message}", file=sys.stderr, flush=True)


def _go_version() -> str:
    try:
        out = subprocess.run(["go", "env", "GOVERSION"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise BuildError(f"the Go toolchain is needed to build control-plane binaries: {error}") from error
    version = out.strip()
    if version.startswith("go1.27"):
        # Go 1.27 turns the jsonv2 experiment on; kube-apiserver built with it serves a broken OpenAPI document.
        raise BuildError(f"{version} builds a kube-apiserver with a broken OpenAPI document; use Go 1.26")
    return version


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOTOOLCHAIN"] = "local"
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    return env


def _go(args: list[str], cwd: Path) -> str:
    result = subprocess.run(["go", *args], cwd=cwd, env=_go_env(), capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise BuildError(f"go {' '.join(args)} failed in {cwd}:\n{tail}")
    return result.stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise builds of one output across processes (pytest-xdist workers, a demo and a test run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _kubernetes_go_mod(version: str, module_dir: Path) -> str:
    info = json.loads(_go(["mod", "download", "-json", f"k8s.io/kubernetes@v{version}"], module_dir))
    upstream = Path(info["GoMod"]).read_text()
    staging = sorted(set(re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", upstream, re.MULTILINE)))
    if not staging:
        raise BuildError(f"k8s.io/kubernetes v{version}: no staging replace lines found in its go.mod")
    go_line = re.search(r"^go (\S+)$", upstream, re.MULTILINE)
    staging_version = "v0." + version.split(".", 1)[1]
    replaces = "".join(f"\t{module} => {module} {staging_version}\n" for module in staging)
    return (
        "module vkharness/kubernetes\n\n"
        f"go {go_line.group(1) if go_line else '1.26.0'}\n\n"
        f"require k8s.io/kubernetes v{version}\n\n"
        f"replace (\n{replaces})\n"
    )


def _version_ldflags(version: str) -> str:
    major, minor, _patch = version.split(".")
    package = "k8s.io/component-base/version"
    return " ".join(
        [
            "-s -w",
            f"-X {package}.gitVersion=v{version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    )


def _recipe_key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _build(
    *,
    name: str,
    version: str,
    write_module: Callable[[Path], None],
    package: str,
    ldflags: str,
    install_dir: Path,
) -> Path:
    """Build ``package`` into ``install_dir/name`` unless a build of the same recipe is already there."""
    target = install_dir / name
    go_version = _go_version()
    stamp = install_dir / f".{name}.recipe"
    key = _recipe_key(name, version, package, ldflags, go_version)
    with _locked(install_dir / f".{name}.lock"):
        if target.exists() and stamp.exists() and stamp.read_text() == key:
            return target
        _log(f"building {name} {version} with {go_version} (first run only; cached in {install_dir})")
        with tempfile.TemporaryDirectory(prefix=f"vk-build-{name}-") as tmp:
            module_dir = Path(tmp)
            write_module(module_dir)
            _go(["mod", "tidy"], module_dir)
            _go(["build", "-trimpath", f"-ldflags={ldflags}", "-o", str(target) + ".tmp", package], module_dir)
        os.replace(str(target) + ".tmp", target)
        stamp.write_text(key)
        _log(f"built {target}")
        return target


def _module_writer(go_mod: str, files: dict[str, str]) -> Callable[[Path], None]:
    """A function that writes the throwaway Go module a build runs in."""

    def write(module_dir: Path) -> None:
        (module_dir / "go.mod").write_text(go_mod)
        for relative, content in files.items():
            (module_dir / relative).write_text(content)

    return write


def _kubebuilder_asset(name: str) -> Path | None:
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if not assets:
        return None
    candidate = Path(assets) / name
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def kubernetes_binary(name: str, version: str = KUBERNETES_VERSION) -> Path:
    """Path to a Kubernetes component (kube-apiserver, kubectl, ...), built on first use."""
    if name not in KUBERNETES_COMPONENTS:
        raise ValueError(f"unknown Kubernetes component {name!r}; known: {', '.join(KUBERNETES_COMPONENTS)}")
    if version == KUBERNETES_VERSION and (asset := _kubebuilder_asset(name)):
        return asset
    install_dir = cache_root() / f"kubernetes-v{version}"
    install_dir.mkdir(parents=True, exist_ok=True)

    def write_module(module_dir: Path) -> None:
        (module_dir / "go.mod").write_text(_kubernetes_go_mod(version, module_dir))
        (module_dir / "tools.go").write_text(
            f'//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/{name}"\n'
        )

    return _build(
        name=name,
        version=version,
        write_module=write_module,
        package=f"k8s.io/kubernetes/cmd/{name}",
        ldflags=_version_ldflags(version),
        install_dir=install_dir,
    )


def etcd_binary(version: str = ETCD_VERSION) -> Path:
    """Path to an etcd server, built on first use."""
    if version == ETCD_VERSION and (asset := _kubebuilder_asset("etcd")):
        return asset
    install_dir = cache_root() / f"etcd-v{version}"
    install_dir.mkdir(parents=True, exist_ok=True)
    writer = _module_writer(
        f"module vkharness/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v{version}\n",
        {"main.go": _ETCD_MAIN},
    )
    return _build(
        name="etcd",
        version=version,
        write_module=writer,
        package=".",
        ldflags="-s -w",
        install_dir=install_dir,
    )


def helm_binary(version: str = HELM_VERSION) -> Path:
    """Path to helm, built on first use."""
    install_dir = cache_root() / f"helm-v{version}"
    install_dir.mkdir(parents=True, exist_ok=True)
    writer = _module_writer(
        f"module vkharness/helm\n\ngo 1.26.0\n\nrequire helm.sh/helm/v3 v{version}\n",
        {"tools.go": f'//go:build tools\n\npackage tools\n\nimport _ "{_HELM_MAIN_PACKAGE}"\n'},
    )
    ldflags = f"-s -w -X helm.sh/helm/v3/internal/version.version=v{version}"
    return _build(
        name="helm",
        version=version,
        write_module=writer,
        package=_HELM_MAIN_PACKAGE,
        ldflags=ldflags,
        install_dir=install_dir,
    )


def ensure_all(kubernetes_version: str = KUBERNETES_VERSION) -> dict[str, Path]:
    """Build (or find) everything the shared control plane needs; used by the test command before pytest."""
    found = {"etcd": etcd_binary()}
    for name in ("kube-apiserver", "kubectl"):
        found[name] = kubernetes_binary(name, kubernetes_version)
    return found


def clear_cache() -> None:
    """Remove every cached build (the next run rebuilds)."""
    shutil.rmtree(cache_root(), ignore_errors=True)

"""The process provider (``provider_process/``, in Go): built with the machine's Go into the harness cache, and run.

The build is keyed by a hash of the provider's sources (``go.mod``, ``go.sum`` and every ``.go`` file, generated
code included) and the Go version, so a warm run finds the binary and starts in milliseconds, and any edit to the
sources makes a new build. ``go.sum`` is committed and the build runs with ``-mod=readonly``: building never
rewrites the repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from vk_harness.binaries import BuildError, _go_version, _locked, _log, cache_root
from vk_harness.processes import Process, free_port
from vk_harness.stack import ProviderProcess

SOURCE_DIR = Path(__file__).resolve().parents[4] / "provider_process"
BINARY_NAME = "vk-provider-process"


def go_env() -> dict[str, str]:
    """The environment of every Go command run on the provider's module: the local toolchain, no module edits."""
    return {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly -buildvcs=false"}


def source_key(source_dir: Path = SOURCE_DIR) -> str:
    """A hash of what the binary is built from."""
    digest = hashlib.sha256(_go_version().encode())
    files = [source_dir / "go.mod", source_dir / "go.sum", *sorted(source_dir.rglob("*.go"))]
    for path in files:
        digest.update(b"\0" + str(path.relative_to(source_dir)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def process_provider_binary(source_dir: Path = SOURCE_DIR) -> Path:
    """Path to ``vk-provider-process`` built from ``source_dir``, built unless this source is already built."""
    key = source_key(source_dir)
    root = cache_root() / "provider-process"
    target = root / key / BINARY_NAME
    with _locked(root / ".build.lock"):
        if target.exists():
            return target
        _log(f"building {BINARY_NAME} from {source_dir} (cached in {target.parent})")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="vk-build-process-", dir=target.parent) as tmp:
            built = Path(tmp) / BINARY_NAME
            argv = ["go", "build", "-trimpath", f"-ldflags=-s -w -X main.version={key}", "-o", str(built), "."]
            result = subprocess.run(argv, cwd=source_dir, env=go_env(), capture_output=True, text=True, check=False)
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
                raise BuildError(f"go build of {source_dir} failed:\n{tail}")
            os.replace(built, target)
        for stale in root.iterdir():  # builds of older sources
            if stale.is_dir() and stale.name != key:
                shutil.rmtree(stale, ignore_errors=True)
        _log(f"built {target}")
        return target


def start_process_provider(
    workdir: Path,
    *,
    name: str = "process-provider",
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> ProviderProcess:
    """The process provider's gRPC server on loopback; its pods' logs and working directories under ``workdir``."""
    address = f"127.0.0.1:{port or free_port()}"
    state_dir = workdir / f"{name}-pods"
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(process_provider_binary()), "--listen", address, "--state-dir", str(state_dir), *extra_args]
    process = Process(name, argv, log_path=workdir / f"{name}.log", env={**os.environ, **env} if env else None)
    process.start()
    provider = ProviderProcess(process=process, address=address, state_file=None)
    provider.wait_ready()
    return provider

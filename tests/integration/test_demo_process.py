"""``scripts/demo --provider process``: the same demo with the Go process provider, the pod a real process here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_the_pod_as_a_process_and_shows_its_logs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vk_harness.demo", "--once", "--provider", "process", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "starting vk-provider-process" in out
    assert "hello-virtual-node" in out
    assert "Running" in out
    assert "hello from a virtual node" in out
    assert "my pod runs on a provider" in out
    provider_log = (tmp_path / "process-provider.log").read_text()
    assert "vk-provider-process" in provider_log
    assert "listening on" in provider_log

"""The README's demo command does what it promises: a pod Running on the virtual node, and its logs shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_demo_runs_a_pod_and_shows_its_logs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vk_harness.demo", "--once", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "node/vk-demo" in out or "vk-demo" in out
    assert "hello-virtual-node" in out
    assert "Running" in out
    assert "hello from a virtual node" in out

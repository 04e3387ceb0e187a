"""The burst benchmark still runs end to end (a short smoke run; benchmarks measure, tests do not)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_burst_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "burst.py"), "--pods", "20", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "median ratio:" in result.stdout


def test_the_secrets_memory_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "secrets_memory.py"), "--secrets", "50", "--pods", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ratio after/before:" in result.stdout


def test_the_logs_follow_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "logs_follow.py"), "--bytes", "2000000"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "throughput ratio kubectl/baseline:" in result.stdout

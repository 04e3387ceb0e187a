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


def test_the_burst_benchmark_compares_tracing_off_with_a_build_without_tracing() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "burst.py"), "--pods", "20", "--rounds", "1", "--tracing-cost"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "median ratio (tracing off / untraced build):" in result.stdout


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


def _runs(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_the_latency_benchmark_runs() -> None:
    assert "vk-controller" in _runs("latency.py", "--rate", "10", "--seconds", "2")


def test_the_delete_burst_benchmark_runs() -> None:
    assert "median ratio:" in _runs("delete_burst.py", "--pods", "10")


def test_the_scale_benchmark_runs() -> None:
    out = _runs("scale.py", "--pods", "10", "--idle", "1", "--settle", "0")
    assert "KB/pod" in out
    assert "idle CPU" in out


def test_the_protocol_benchmark_runs() -> None:
    assert "overhead:" in _runs("protocol.py", "--pods", "20")


def test_the_cpu_per_pod_benchmark_runs() -> None:
    assert "ms/pod" in _runs("cpu_per_pod.py", "--pods", "10")

"""What the fault and bad-input suites observed, appended as JSON lines for ``bench/reliability_report.py``.

RELIABILITY.md is rendered from these lines, never typed by hand: each fault test records how long recovery took
and the counts it checked; each bad-input case records the request (or the pod spec) and the answer it got.
The file is ``$VK_RELIABILITY_REPORT``, else ``vk-reliability.jsonl`` in the temporary directory. Times are
reported, never asserted: the tests only bound their waits by the configured intervals.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

REPORT_ENV = "VK_RELIABILITY_REPORT"


def report_path() -> Path:
    configured = os.environ.get(REPORT_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "vk-reliability.jsonl"


def record(kind: str, **fields: Any) -> None:
    """Append one observation (``kind`` is ``fault``, ``kubelet-api`` or ``pod-spec``)."""
    with report_path().open("a", encoding="utf-8") as file:
        file.write(json.dumps({"kind": kind, **fields}, sort_keys=True) + "\n")


class Clock:
    """Seconds since the fault was injected, for the marks a test reports."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self.marks: dict[str, float] = {}

    def restart(self) -> None:
        self._start = time.monotonic()

    def mark(self, name: str) -> float:
        elapsed = round(time.monotonic() - self._start, 2)
        self.marks[name] = elapsed
        return elapsed

"""Logging set-up: plain text for people, or one JSON object per line for log pipelines.

JSON lines carry ``pod`` (the key a queue worker is reconciling, from :data:`work_key`) and ``trace_id`` (when
tracing is on and a span is current) besides what a call passes in ``extra``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys

from vk_provider_sdk import tracing

#: The key (``namespace/name``) a queue worker is reconciling; set by the worker, read by the JSON formatter.
work_key: contextvars.ContextVar[str | None] = contextvars.ContextVar("work_key", default=None)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("pod", "node", "trace_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if "pod" not in entry and (pod := work_key.get()):
            entry["pod"] = pod
        if "trace_id" not in entry and (trace_id := tracing.current_trace_id()):
            entry["trace_id"] = trace_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp").setLevel(max(logging.WARNING, root.level))

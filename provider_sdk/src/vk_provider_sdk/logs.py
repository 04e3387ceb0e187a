"""Log options applied to structured entries, for providers whose backend returns a whole log.

A provider that declares ``since``, ``tail_lines`` or ``limit_bytes`` but whose backend only returns lines (a list
from an API, a file) can apply the options here instead of rewriting the rules; the rules are the ones the
controller applies when a provider does not declare an option (docs/protocol.md, "Logs"):

- ``since_time`` drops entries older than it and keeps entries without a time;
- ``tail_lines`` keeps the last N *lines*, where a line is a run of ``partial`` entries ended by a non-partial one;
- ``limit_bytes`` stops after at least that many content bytes (the entry that crosses the limit is sent whole;
  the controller trims to the exact byte).

:func:`batches` cuts entries into responses of at most 64 KiB, as ``logs.proto`` recommends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from virtualkubelet.provider.v1 import logs_pb2

BATCH_BYTES = 64 * 1024


def select(
    entries: Sequence[logs_pb2.LogEntry],
    request: logs_pb2.GetContainerLogsRequest,
    *,
    budget: ByteBudget | None = None,
) -> list[logs_pb2.LogEntry]:
    """The entries that ``request``'s since_time, tail_lines and limit_bytes leave, in order.

    Pass a ``budget`` to keep counting ``limit_bytes`` over the entries sent later (follow mode).
    """
    chosen = list(entries)
    if request.HasField("since_time"):
        since = request.since_time.ToNanoseconds()
        chosen = [e for e in chosen if not e.HasField("time") or e.time.ToNanoseconds() >= since]
    if request.HasField("tail_lines"):
        chosen = tail(chosen, request.tail_lines)
    if budget is None:
        budget = ByteBudget(request.limit_bytes if request.HasField("limit_bytes") else None)
    return budget.take(chosen)


def tail(entries: Sequence[logs_pb2.LogEntry], lines: int) -> list[logs_pb2.LogEntry]:
    """The entries of the last ``lines`` lines (0: none). An unfinished last line counts as a line."""
    start = len(entries)
    end = len(entries) - 1  # the last entry of the line being counted
    for _ in range(max(lines, 0)):
        if end < 0:
            break
        start = end
        while start > 0 and entries[start - 1].partial:
            start -= 1
        end = start - 1
    return list(entries[start:])


class ByteBudget:
    """``limit_bytes`` across a whole response stream (history and, when following, new entries)."""

    def __init__(self, limit: int | None) -> None:
        self.remaining = limit

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def take(self, entries: Iterable[logs_pb2.LogEntry]) -> list[logs_pb2.LogEntry]:
        """The entries that fit, counting them against the budget (the crossing entry is included)."""
        taken = []
        for entry in entries:
            if self.exhausted:
                break
            taken.append(entry)
            if self.remaining is not None:
                self.remaining -= len(entry.content)
        return taken


def batches(entries: Iterable[logs_pb2.LogEntry], *, max_bytes: int = BATCH_BYTES) -> Iterator[list[logs_pb2.LogEntry]]:
    """Consecutive groups of entries of at most ``max_bytes`` content each (an entry larger than that goes alone)."""
    batch: list[logs_pb2.LogEntry] = []
    size = 0
    for entry in entries:
        if batch and size + len(entry.content) > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += len(entry.content)
    if batch:
        yield batch


__all__ = ["BATCH_BYTES", "ByteBudget", "batches", "select", "tail"]

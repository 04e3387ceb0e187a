"""Log entries to the bytes ``kubectl logs`` receives, applying every option the provider does not apply itself.

:func:`plan` splits the user's options between the provider (what it declared in ``LogsCapabilities``) and the
controller. An option is passed on only if every option that must come before it also is: the order is since, then
tail, then the byte limit (the provider's SDK applies them in that order too), so a provider that can cut the tail
but not filter by time gets neither and the controller does both.

:func:`render` then works on the stream of batches without holding the log in memory: since is a filter, the byte
limit a counter, and a tail keeps only the last N lines (in follow mode until the provider marks the end of the
history). Formatting follows the kubelet's CRI log reader: a line is the entries up to one that is not ``partial``;
``timestamps`` prefixes each *new* line with ``2006-01-02T15:04:05.000000000Z`` and a space (continuations get no
prefix); ``limitBytes`` counts every byte written, prefixes and newlines included, and cuts the last line.
An entry without a time gets the time the controller received it, when a time is needed.
"""

from __future__ import annotations

import collections
import datetime
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass

from vk_controller.kubeletapi.logoptions import LogOptions
from vk_controller.provider import capabilities
from vk_controller.provider.logs import LogBatch, LogEntry, LogQuery


@dataclass(frozen=True)
class Plan:
    #: What the provider is asked for.
    query: LogQuery
    #: What the controller applies itself.
    since_ns: int | None
    tail_lines: int | None
    limit_bytes: int | None
    timestamps: bool


def plan(
    options: LogOptions,
    declared: capabilities.LogOptions,
    *,
    uid: str,
    namespace: str,
    name: str,
    container: str,
    now_ns: int,
) -> Plan:
    since = options.since_ns(now_ns)
    pass_since = since is not None and declared.since
    since_done = since is None or pass_since
    pass_tail = options.tail_lines is not None and declared.tail_lines and since_done
    tail_done = options.tail_lines is None or pass_tail
    pass_limit = options.limit_bytes is not None and declared.limit_bytes and since_done and tail_done
    query = LogQuery(
        uid=uid,
        namespace=namespace,
        name=name,
        container=container,
        follow=options.follow,
        previous=options.previous,
        timestamps=options.timestamps and declared.timestamps,
        tail_lines=options.tail_lines if pass_tail else None,
        since_ns=since if pass_since else None,
        limit_bytes=options.limit_bytes if pass_limit else None,
    )
    return Plan(
        query=query,
        # Filtering again by the same time is harmless, and covers a provider that sends a little more.
        since_ns=since,
        tail_lines=None if pass_tail else options.tail_lines,
        # The provider's limit counts content bytes only; the exact cut is always the controller's.
        limit_bytes=options.limit_bytes,
        timestamps=options.timestamps,
    )


def format_timestamp(time_ns: int) -> bytes:
    """Go's ``2006-01-02T15:04:05.000000000Z07:00`` in UTC: always nine fraction digits."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z".encode()


class LogWriter:
    """Formats entries into output bytes and enforces the byte limit."""

    def __init__(self, *, timestamps: bool, limit_bytes: int | None, clock: Callable[[], int] = time.time_ns) -> None:
        self._timestamps = timestamps
        self._remaining = limit_bytes
        self._clock = clock
        self._at_line_start = True

    @property
    def done(self) -> bool:
        return self._remaining is not None and self._remaining <= 0

    def format(self, entries: list[LogEntry]) -> bytes:
        """The bytes for ``entries``, cut where the limit is reached."""
        out = bytearray()
        for entry in entries:
            if self.done:
                break
            line = entry.content if entry.partial else entry.content + b"\n"
            if self._timestamps and self._at_line_start:
                stamp = entry.time_ns if entry.time_ns is not None else self._clock()
                line = format_timestamp(stamp) + b" " + line
            self._at_line_start = not entry.partial
            if self._remaining is not None:
                line = line[: self._remaining]
                self._remaining -= len(line)
            out += line
        return bytes(out)


class TailBuffer:
    """The entries of the last ``lines`` lines seen (an unfinished last line counts as a line)."""

    def __init__(self, lines: int) -> None:
        self._lines: collections.deque[list[LogEntry]] = collections.deque(maxlen=max(lines, 0))
        self._open = False  # the last line has no end yet

    def add(self, entry: LogEntry) -> None:
        if self._lines.maxlen == 0:
            return
        if self._open:
            self._lines[-1].append(entry)
        else:
            self._lines.append([entry])
        self._open = entry.partial

    def entries(self) -> list[LogEntry]:
        return [entry for line in self._lines for entry in line]


async def render(
    batches: AsyncIterator[LogBatch], plan: Plan, *, clock: Callable[[], int] = time.time_ns
) -> AsyncGenerator[bytes, None]:
    """The output, one chunk per batch of the provider (empty batches give no chunk); ends at the byte limit."""
    writer = LogWriter(timestamps=plan.timestamps, limit_bytes=plan.limit_bytes, clock=clock)
    tail = TailBuffer(plan.tail_lines) if plan.tail_lines is not None else None
    since = plan.since_ns
    async for batch in batches:
        entries = [e for e in batch.entries if since is None or e.time_ns is None or e.time_ns >= since]
        if tail is not None:
            for entry in entries:
                tail.add(entry)
            if not batch.history_complete:
                continue
            entries, tail = tail.entries(), None
        chunk = writer.format(entries)
        if chunk:
            yield chunk
        if writer.done:
            return
    if tail is not None:
        chunk = writer.format(tail.entries())
        if chunk:
            yield chunk


__all__ = ["LogWriter", "Plan", "TailBuffer", "format_timestamp", "plan", "render"]

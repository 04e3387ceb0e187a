"""Container logs from the provider (``GetContainerLogs``), as plain data: the kubelet API never sees protobuf.

A :class:`LogQuery` carries only the options the caller wants the provider to apply; the caller decides which
(those the provider declared) and applies the others itself. Times are integer nanoseconds since the epoch, so a
backend's nanosecond timestamps survive to ``kubectl logs --timestamps``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Literal

from virtualkubelet.provider.v1 import logs_pb2
from vk_controller.provider.client import ProviderClient
from vk_controller.provider.records import pod_ref

Stream = Literal["stdout", "stderr", ""]

_STREAMS: dict[int, Stream] = {logs_pb2.LOG_STREAM_STDOUT: "stdout", logs_pb2.LOG_STREAM_STDERR: "stderr"}


@dataclass(frozen=True)
class LogEntry:
    #: When the container wrote it, per the backend; None if the backend has no per-line time.
    time_ns: int | None
    #: "stdout", "stderr" or "" (unknown).
    stream: Stream
    #: The bytes, without the newline.
    content: bytes
    #: The line continues in the next entry.
    partial: bool = False


@dataclass(frozen=True)
class LogBatch:
    entries: tuple[LogEntry, ...]
    #: Following: every entry that existed when the call started has now been sent.
    history_complete: bool = False


@dataclass(frozen=True)
class LogQuery:
    uid: str
    namespace: str
    name: str
    container: str
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None
    limit_bytes: int | None = None

    def request(self) -> logs_pb2.GetContainerLogsRequest:
        request = logs_pb2.GetContainerLogsRequest(
            pod=pod_ref(self.uid, self.namespace, self.name),
            container=self.container,
            follow=self.follow,
            previous=self.previous,
            timestamps=self.timestamps,
        )
        if self.tail_lines is not None:
            request.tail_lines = self.tail_lines
        if self.since_ns is not None:
            request.since_time.FromNanoseconds(self.since_ns)
        if self.limit_bytes is not None:
            request.limit_bytes = self.limit_bytes
        return request


def _entry(entry: logs_pb2.LogEntry) -> LogEntry:
    return LogEntry(
        time_ns=entry.time.ToNanoseconds() if entry.HasField("time") else None,
        stream=_STREAMS.get(entry.stream, ""),
        content=entry.content,
        partial=entry.partial,
    )


async def container_logs(client: ProviderClient, query: LogQuery) -> AsyncGenerator[LogBatch, None]:
    """The provider's batches for ``query``; raises the call's :class:`~vk_provider_sdk.errors.ProviderError`.

    Closing the iterator early (the user went away) cancels the call.
    """
    async with contextlib.aclosing(client.get_container_logs(query.request())) as responses:
        async for response in responses:
            yield LogBatch(
                entries=tuple(_entry(entry) for entry in response.entries), history_complete=response.history_complete
            )


__all__ = ["LogBatch", "LogEntry", "LogQuery", "Stream", "container_logs"]

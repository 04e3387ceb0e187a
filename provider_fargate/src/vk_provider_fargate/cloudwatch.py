"""Container logs from CloudWatch Logs: the awslogs stream ``<prefix>/<container>/<task id>`` of each container.

CloudWatch keeps a real timestamp per line, so ``timestamps`` is declared; ``since`` is passed to AWS as
``startTime``; ``tail_lines`` and ``limit_bytes`` are applied to the entries with the SDK's rules; ``follow`` polls
for new events with a backoff from 0.5 s to 5 s and ends once the container has stopped and a last read found
nothing new. awslogs merges stdout and stderr, so entries have an unspecified stream. ``previous`` is not offered:
ECS restarts a container in the same stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import logs_pb2
from vk_provider_fargate import backend
from vk_provider_sdk import errors, logs

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

FOLLOW_MIN_DELAY = 0.5
FOLLOW_MAX_DELAY = 5.0


def stream_name(prefix: str, container: str, task_arn: str) -> str:
    return f"{prefix}/{container}/{task_arn.rsplit('/', 1)[-1]}"


def _entry(event: dict[str, Any]) -> logs_pb2.LogEntry:
    entry = logs_pb2.LogEntry(content=str(event.get("message", "")).encode())
    if "timestamp" in event:
        stamp = timestamp_pb2.Timestamp()
        stamp.FromMilliseconds(int(event["timestamp"]))
        entry.time.CopyFrom(stamp)
    return entry


class StreamReader:
    """Reads one log stream forward, remembering where it stopped."""

    def __init__(self, client: CloudWatchLogsClient, *, group: str, stream: str, start_ms: int | None) -> None:
        self._client = client
        self._group = group
        self._stream = stream
        self._start_ms = start_ms
        self._token: str | None = None

    async def read(self) -> list[logs_pb2.LogEntry]:
        """Every event after the last read (all of them the first time); [] if the stream does not exist yet."""
        entries: list[logs_pb2.LogEntry] = []
        while True:
            kwargs: dict[str, Any] = {"logGroupName": self._group, "logStreamName": self._stream, "startFromHead": True}
            if self._start_ms is not None:
                kwargs["startTime"] = self._start_ms  # kept with the token: the same query, continued
            if self._token is not None:
                kwargs["nextToken"] = self._token
            try:
                page = await backend.call("GetLogEvents", self._client.get_log_events, **kwargs)
            except errors.ProviderError as error:
                if (
                    isinstance(error.__cause__, Exception)
                    and backend.error_code(error.__cause__) == "ResourceNotFoundException"
                ):
                    return entries
                raise
            events = page.get("events", [])
            entries.extend(_entry(dict(event)) for event in events)
            token = page.get("nextForwardToken")
            if not events or token is None or token == self._token:
                self._token = token or self._token
                return entries
            self._token = token


async def read_logs(
    client: CloudWatchLogsClient,
    request: logs_pb2.GetContainerLogsRequest,
    *,
    group: str,
    stream: str,
    stopped: Callable[[], Awaitable[bool]],
) -> AsyncIterator[logs_pb2.GetContainerLogsResponse]:
    """The responses for ``request``; with follow, until ``stopped()`` and nothing new came."""
    start_ms = request.since_time.ToMilliseconds() if request.HasField("since_time") else None
    reader = StreamReader(client, group=group, stream=stream, start_ms=start_ms)
    budget = logs.ByteBudget(request.limit_bytes if request.HasField("limit_bytes") else None)
    history = logs.select(await reader.read(), request, budget=budget)
    for batch in logs.batches(history):
        yield logs_pb2.GetContainerLogsResponse(entries=batch)
    if not request.follow:
        return
    yield logs_pb2.GetContainerLogsResponse(history_complete=True)
    delay = FOLLOW_MIN_DELAY
    while not budget.exhausted:
        done = await stopped()
        new = budget.take(await reader.read())
        for batch in logs.batches(new):
            yield logs_pb2.GetContainerLogsResponse(entries=batch)
        if done and not new:
            return
        delay = FOLLOW_MIN_DELAY if new else min(delay * 2, FOLLOW_MAX_DELAY)
        await asyncio.sleep(delay)


__all__ = ["StreamReader", "read_logs", "stream_name"]

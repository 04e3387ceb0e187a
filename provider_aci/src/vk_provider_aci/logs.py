"""ACI container logs → the protocol's entries.

ACI returns a container's log as one text (``GET .../containers/{c}/logs?tail=&timestamps=``); with
``timestamps=true`` every line starts with the RFC 3339 time the runtime recorded and a space, as ``docker logs -t``
prints it. ACI merges stdout and stderr, so the stream is unknown. Follow has no ACI API: the provider asks again
every interval and sends only the lines beyond those already sent (lines are only ever appended to a container's
log, so the count of lines sent is the position).
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import logs_pb2


def parse(content: str) -> list[logs_pb2.LogEntry]:
    """The entries of a log fetched with ``timestamps=true`` (a line without a readable time keeps it unset)."""
    entries: list[logs_pb2.LogEntry] = []
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        entry = logs_pb2.LogEntry(stream=logs_pb2.LOG_STREAM_UNSPECIFIED)
        stamp_text, sep, rest = line.partition(" ")
        stamp = _timestamp(stamp_text) if sep else None
        if stamp is not None:
            entry.time.CopyFrom(stamp)
            entry.content = rest.removesuffix("\r").encode()
        else:
            entry.content = line.removesuffix("\r").encode()
        entries.append(entry)
    return entries


def _timestamp(text: str) -> timestamp_pb2.Timestamp | None:
    if not text or not text[0].isdigit() or "T" not in text:
        return None
    stamp = timestamp_pb2.Timestamp()
    try:
        stamp.FromJsonString(text)
    except ValueError:
        return None
    return stamp


__all__ = ["parse"]

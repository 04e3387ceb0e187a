"""The query of ``/containerLogs``, decoded and validated with the kubelet's rules (``v1.PodLogOptions``).

The kubelet decodes the query with the API machinery's parameter codec, then validates it, and answers each kind of
failure differently, so both steps are kept apart here:

- decoding (:class:`BadQuery`, HTTP 400 ``{"message": "Unable to decode query."}``): a number that is not an int64,
  a ``sinceTime`` that is not RFC 3339. Only the first value of a repeated parameter counts. Booleans are true for
  any value except ``false`` and ``0`` (any case), even an empty one. Empty numbers mean "not set".
  The legacy ``tail=N`` replaces ``tailLines``, and ``tail=all`` means no tail.
- validation (:class:`InvalidOptions`, HTTP 422 ``{"message": "Invalid request."}``): negative ``tailLines``,
  ``limitBytes`` < 1, ``sinceSeconds`` < 1, or both ``sinceSeconds`` and ``sinceTime``.

``stream`` other than ``All`` needs an alpha feature gate the kubelet has off: it is refused (400).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT = re.compile(r"[+-]?[0-9]+")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))",
)


class BadQuery(ValueError):
    """The query cannot be decoded into log options (400)."""


class InvalidOptions(ValueError):
    """The options are decoded but not valid (422)."""


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since_seconds: int | None = None
    #: ``sinceTime`` in nanoseconds since the epoch; 0 when given empty (the zero time: no limit).
    since_time_ns: int | None = None

    def since_ns(self, now_ns: int) -> int | None:
        """The earliest time of an entry to show, if any."""
        if self.since_seconds is not None:
            return now_ns - self.since_seconds * 1_000_000_000
        if self.since_time_ns:
            return self.since_time_ns
        return None


def parse_bool(value: str) -> bool:
    return value.lower() not in ("false", "0")


def parse_int64(name: str, value: str) -> int | None:
    if value == "":
        return None
    if not _INT.fullmatch(value):
        raise BadQuery(f"{name}: {value!r} is not an integer")
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise BadQuery(f"{name}: {value!r} is out of range")
    return number


def parse_rfc3339_ns(value: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time (fractional seconds allowed), as Go's time.RFC3339 parses."""
    match = _RFC3339.fullmatch(value)
    if not match:
        raise BadQuery(f"sinceTime: {value!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    try:
        offset = datetime.timedelta(0)
        if match.group(8) != "Z":
            sign = -1 if match.group(9) == "-" else 1
            hours, minutes = int(match.group(10)), int(match.group(11))
            if hours > 23 or minutes > 59:
                raise ValueError("offset out of range")
            offset = sign * datetime.timedelta(hours=hours, minutes=minutes)
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone(offset))
    except ValueError as error:
        raise BadQuery(f"sinceTime: {value!r}: {error}") from error
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def _first(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def parse(query: Mapping[str, Sequence[str]]) -> LogOptions:
    """Decode and validate; raises :class:`BadQuery` or :class:`InvalidOptions` with a message for the log."""
    tail_lines = _first(query, "tailLines")
    legacy = _first(query, "tail")
    if legacy:
        tail_lines = None if legacy == "all" else legacy
    stream = _first(query, "stream")
    if stream is not None and stream != "All":
        raise BadQuery(f"stream {stream!r}: selecting a log stream is not supported")

    def flag(name: str) -> bool:
        value = _first(query, name)
        return value is not None and parse_bool(value)

    def number(name: str, value: str | None) -> int | None:
        return None if value is None else parse_int64(name, value)

    since_time = _first(query, "sinceTime")
    options = LogOptions(
        follow=flag("follow"),
        previous=flag("previous"),
        timestamps=flag("timestamps"),
        tail_lines=number("tailLines", tail_lines),
        limit_bytes=number("limitBytes", _first(query, "limitBytes")),
        since_seconds=number("sinceSeconds", _first(query, "sinceSeconds")),
        since_time_ns=(
            None if since_time is None else 0 if since_time in ("", "null") else parse_rfc3339_ns(since_time)
        ),
    )
    validate(options)
    return options


def validate(options: LogOptions) -> None:
    problems = []
    if options.tail_lines is not None and options.tail_lines < 0:
        problems.append("tailLines: must be greater than or equal to 0")
    if options.limit_bytes is not None and options.limit_bytes < 1:
        problems.append("limitBytes: must be greater than 0")
    if options.since_seconds is not None and options.since_time_ns is not None:
        problems.append("at most one of `sinceTime` or `sinceSeconds` may be specified")
    elif options.since_seconds is not None and options.since_seconds < 1:
        problems.append("sinceSeconds: must be greater than 0")
    if problems:
        raise InvalidOptions("; ".join(problems))


__all__ = ["BadQuery", "InvalidOptions", "LogOptions", "parse", "parse_bool", "parse_int64", "parse_rfc3339_ns"]

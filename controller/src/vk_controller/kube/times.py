"""The API's two time formats: ``Time`` (RFC 3339, seconds) and ``MicroTime`` (microseconds), always UTC."""

from __future__ import annotations

import datetime


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime.datetime:
    """Either format (and any RFC 3339 offset) to an aware datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

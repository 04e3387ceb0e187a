"""The /containerLogs query decoded with the kubelet's rules: bools, int64s, RFC 3339, the legacy tail, validation."""

from __future__ import annotations

import pytest

from vk_controller.kubeletapi.logoptions import BadQuery, InvalidOptions, LogOptions, parse, parse_rfc3339_ns


def q(**values: str | list[str]) -> dict[str, list[str]]:
    return {key: value if isinstance(value, list) else [value] for key, value in values.items()}


def test_no_query_means_no_options() -> None:
    assert parse({}) == LogOptions()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("1", True), ("", True), ("yes", True), ("TRUE", True), ("false", False), ("0", False)],
)
def test_booleans_are_true_unless_false_or_zero(value: str, expected: bool) -> None:
    assert parse(q(follow=value)).follow is expected
    assert parse(q(previous=value)).previous is expected
    assert parse(q(timestamps=value)).timestamps is expected


def test_only_the_first_value_of_a_repeated_parameter_counts() -> None:
    assert parse(q(tailLines=["3", "abc"])).tail_lines == 3
    assert parse(q(follow=["false", "true"])).follow is False


def test_numbers() -> None:
    options = parse(q(tailLines="10", limitBytes="+500", sinceSeconds="60"))

    assert (options.tail_lines, options.limit_bytes, options.since_seconds) == (10, 500, 60)
    assert parse(q(tailLines="")).tail_lines is None


@pytest.mark.parametrize(
    "query",
    [
        q(tailLines="abc"),
        q(tailLines="1.5"),
        q(tailLines=" 1"),
        q(tailLines="1_000"),
        q(limitBytes="9223372036854775808"),
        q(sinceTime="yesterday"),
        q(sinceTime="2024-01-01"),
        q(sinceTime="2024-01-01 10:00:00Z"),
        q(sinceTime="2024-13-01T10:00:00Z"),
        q(sinceTime="2024-01-01T10:00:00"),
        q(stream="Stderr"),
    ],
)
def test_undecodable_queries_are_bad_requests(query: dict[str, list[str]]) -> None:
    with pytest.raises(BadQuery):
        parse(query)


@pytest.mark.parametrize(
    "query",
    [
        q(tailLines="-1"),
        q(limitBytes="0"),
        q(sinceSeconds="0"),
        q(sinceSeconds="5", sinceTime="2024-01-01T00:00:00Z"),
        q(sinceSeconds="5", sinceTime=""),
    ],
)
def test_invalid_options_are_unprocessable(query: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidOptions):
        parse(query)


def test_the_legacy_tail_replaces_tail_lines_and_all_means_everything() -> None:
    assert parse(q(tail="5")).tail_lines == 5
    assert parse(q(tail="5", tailLines="9")).tail_lines == 5
    assert parse(q(tail="all", tailLines="9")).tail_lines is None
    assert parse(q(tail="", tailLines="9")).tail_lines == 9
    with pytest.raises(BadQuery):
        parse(q(tail="some"))


def test_stream_all_is_accepted() -> None:
    assert parse(q(stream="All")) == LogOptions()


def test_since_time_keeps_fractions_and_offsets() -> None:
    base = parse_rfc3339_ns("2024-05-06T07:08:09Z")

    assert base == 1714979289 * 1_000_000_000
    assert parse_rfc3339_ns("2024-05-06T07:08:09.5Z") == base + 500_000_000
    assert parse_rfc3339_ns("2024-05-06T07:08:09.123456789123Z") == base + 123_456_789
    assert parse_rfc3339_ns("2024-05-06T09:08:09+02:00") == base
    assert parse(q(sinceTime="2024-05-06T07:08:09Z")).since_ns(now_ns=0) == base


def test_since_seconds_counts_back_from_now_and_an_empty_since_time_is_no_limit() -> None:
    now = 1_000 * 1_000_000_000

    assert parse(q(sinceSeconds="10")).since_ns(now) == now - 10 * 1_000_000_000
    assert parse(q(sinceTime="")).since_ns(now) is None
    assert parse({}).since_ns(now) is None

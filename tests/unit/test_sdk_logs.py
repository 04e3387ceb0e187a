"""Log options applied to structured entries: since, tail (by lines, not entries), limit bytes, batching."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import logs_pb2
from vk_provider_sdk import logs


def entry(text: str, at: int | None = None, *, partial: bool = False) -> logs_pb2.LogEntry:
    result = logs_pb2.LogEntry(content=text.encode(), partial=partial)
    if at is not None:
        result.time.CopyFrom(timestamp_pb2.Timestamp(seconds=at))
    return result


def texts(entries: list[logs_pb2.LogEntry]) -> list[str]:
    return [e.content.decode() for e in entries]


LOG = [entry("one", 10), entry("two", 20), entry("three", 30)]


def test_no_options_keep_everything() -> None:
    assert texts(logs.select(LOG, logs_pb2.GetContainerLogsRequest())) == ["one", "two", "three"]


def test_since_drops_older_entries_and_keeps_entries_without_time() -> None:
    request = logs_pb2.GetContainerLogsRequest(since_time=timestamp_pb2.Timestamp(seconds=20))

    assert texts(logs.select([*LOG, entry("untimed")], request)) == ["two", "three", "untimed"]


def test_tail_counts_lines_made_of_partial_entries() -> None:
    split = [entry("a"), entry("b1", partial=True), entry("b2"), entry("c1", partial=True), entry("c2")]

    assert texts(logs.tail(split, 2)) == ["b1", "b2", "c1", "c2"]
    assert texts(logs.tail(split, 1)) == ["c1", "c2"]
    assert logs.tail(split, 0) == []
    assert texts(logs.tail(split, 10)) == ["a", "b1", "b2", "c1", "c2"]


def test_an_unfinished_last_line_counts_as_a_line() -> None:
    assert texts(logs.tail([entry("a"), entry("b"), entry("c", partial=True)], 1)) == ["c"]


def test_limit_bytes_stops_after_the_entry_that_reaches_the_limit() -> None:
    request = logs_pb2.GetContainerLogsRequest(limit_bytes=4)

    assert texts(logs.select(LOG, request)) == ["one", "two"]


def test_a_budget_keeps_counting_across_calls() -> None:
    budget = logs.ByteBudget(5)
    assert texts(budget.take([entry("one")])) == ["one"]
    assert not budget.exhausted
    assert texts(budget.take([entry("two"), entry("three")])) == ["two"]
    assert budget.exhausted


def test_batches_stay_under_the_size_but_never_split_an_entry() -> None:
    entries = [entry("x" * 40), entry("y" * 40), entry("z" * 100)]

    assert [len(batch) for batch in logs.batches(entries, max_bytes=64)] == [1, 1, 1]
    assert [len(batch) for batch in logs.batches(entries, max_bytes=80)] == [2, 1]

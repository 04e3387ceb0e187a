"""Log options the controller applies itself (when the provider did not declare them), and the kubelet's output
format: timestamps on new lines only, limitBytes counting every byte written, tails by lines."""

from __future__ import annotations

from collections.abc import AsyncIterator

from vk_controller.kubeletapi.logoptions import LogOptions
from vk_controller.kubeletapi.logstream import LogWriter, Plan, TailBuffer, format_timestamp, plan, render
from vk_controller.provider.capabilities import LogOptions as Declared
from vk_controller.provider.logs import LogBatch, LogEntry, LogQuery

S = 1_000_000_000
NOTHING = Declared(supported=True)
EVERYTHING = Declared(
    supported=True, follow=True, since=True, tail_lines=True, limit_bytes=True, previous=True, timestamps=True
)


def e(text: str, at: int | None = None, *, partial: bool = False, stream: str = "stdout") -> LogEntry:
    return LogEntry(time_ns=at, stream=stream, content=text.encode(), partial=partial)  # type: ignore[arg-type]


def make_plan(options: LogOptions, declared: Declared = NOTHING, now: int = 100 * S) -> Plan:
    return plan(options, declared, uid="u", namespace="ns", name="p", container="c", now_ns=now)


async def batches(*groups: list[LogEntry], complete_after: int | None = None) -> AsyncIterator[LogBatch]:
    for index, group in enumerate(groups):
        yield LogBatch(entries=tuple(group), history_complete=index == complete_after)


async def output(chosen: Plan, source: AsyncIterator[LogBatch], clock: int = 999 * S) -> bytes:
    return b"".join([chunk async for chunk in render(source, chosen, clock=lambda: clock)])


def test_timestamps_use_nine_fraction_digits_in_utc() -> None:
    assert format_timestamp(0) == b"1970-01-01T00:00:00.000000000Z"
    assert format_timestamp(1714979289 * S + 5) == b"2024-05-06T07:08:09.000000005Z"


def test_options_go_to_the_provider_only_when_declared_and_in_order() -> None:
    options = LogOptions(follow=True, tail_lines=5, since_seconds=10, limit_bytes=100, timestamps=True)

    everything = make_plan(options, EVERYTHING).query
    assert (everything.tail_lines, everything.since_ns, everything.limit_bytes) == (5, 90 * S, 100)
    assert everything.timestamps
    assert everything.follow

    nothing = make_plan(options, NOTHING)
    assert (nothing.query.tail_lines, nothing.query.since_ns, nothing.query.limit_bytes) == (None, None, None)
    assert (nothing.tail_lines, nothing.since_ns, nothing.limit_bytes) == (5, 90 * S, 100)
    assert not nothing.query.timestamps

    # The provider can cut the tail but not filter by time: the tail must come after the filter, so both stay here.
    tail_only = make_plan(options, Declared(supported=True, tail_lines=True, limit_bytes=True))
    assert (tail_only.query.tail_lines, tail_only.query.limit_bytes) == (None, None)
    assert tail_only.tail_lines == 5


def test_a_declared_tail_is_not_applied_twice() -> None:
    chosen = make_plan(LogOptions(tail_lines=1), Declared(supported=True, tail_lines=True))

    assert chosen.query.tail_lines == 1
    assert chosen.tail_lines is None


async def test_plain_output_is_content_and_newlines() -> None:
    chosen = make_plan(LogOptions())

    assert await output(chosen, batches([e("a"), e("b", partial=True), e("c")])) == b"a\nbc\n"


async def test_the_controller_applies_since_tail_and_limit() -> None:
    log = [e("old", 80 * S), e("untimed"), e("x", 95 * S), e("y", 96 * S), e("z", 97 * S)]

    assert await output(make_plan(LogOptions(since_seconds=10)), batches(log)) == b"untimed\nx\ny\nz\n"
    assert await output(make_plan(LogOptions(tail_lines=2)), batches(log[:2], log[2:])) == b"y\nz\n"
    assert await output(make_plan(LogOptions(tail_lines=0)), batches(log)) == b""
    assert await output(make_plan(LogOptions(limit_bytes=6)), batches(log)) == b"old\nun"
    assert await output(make_plan(LogOptions(since_seconds=10, tail_lines=1, limit_bytes=1)), batches(log)) == b"z"


async def test_tail_counts_lines_not_entries() -> None:
    log = [e("a"), e("b1", partial=True), e("b2"), e("c")]

    assert await output(make_plan(LogOptions(tail_lines=2)), batches(log)) == b"b1b2\nc\n"


async def test_timestamps_prefix_new_lines_only_and_count_against_the_limit() -> None:
    log = [e("one", 1 * S), e("tw", 2 * S, partial=True), e("o", 3 * S), e("late")]
    stamped = await output(make_plan(LogOptions(timestamps=True)), batches(log), clock=4 * S)

    assert stamped == (
        b"1970-01-01T00:00:01.000000000Z one\n1970-01-01T00:00:02.000000000Z two\n1970-01-01T00:00:04.000000000Z late\n"
    )
    limited = await output(make_plan(LogOptions(timestamps=True, limit_bytes=33)), batches(log))
    assert limited == b"1970-01-01T00:00:01.000000000Z on"


async def test_following_with_an_emulated_tail_waits_for_the_end_of_the_history() -> None:
    chosen = make_plan(LogOptions(follow=True, tail_lines=1), Declared(supported=True, follow=True))
    assert chosen.query.follow
    chunks = [
        chunk
        async for chunk in render(
            batches([e("h1"), e("h2")], [e("h3")], [e("new1")], [e("new2")], complete_after=1), chosen
        )
    ]

    assert chunks == [b"h3\n", b"new1\n", b"new2\n"]


async def test_a_stream_that_ends_before_the_history_is_marked_still_gets_its_tail() -> None:
    chosen = make_plan(LogOptions(follow=True, tail_lines=1), Declared(supported=True, follow=True))

    assert await output(chosen, batches([e("a"), e("b")])) == b"b\n"


async def test_the_stream_stops_at_the_limit() -> None:
    consumed = []

    async def endless() -> AsyncIterator[LogBatch]:
        for index in range(1000):
            consumed.append(index)
            yield LogBatch(entries=(e(f"line {index}"),))

    assert await output(make_plan(LogOptions(limit_bytes=10)), endless()) == b"line 0\nlin"
    assert len(consumed) == 2


def test_writer_and_tail_buffer_edges() -> None:
    writer = LogWriter(timestamps=False, limit_bytes=None)
    assert writer.format([]) == b""
    assert not writer.done
    tail = TailBuffer(2)
    for entry in [e("a"), e("b", partial=True), e("c", partial=True)]:
        tail.add(entry)
    assert [x.content for x in tail.entries()] == [b"a", b"b", b"c"]


def test_queries_carry_the_pod() -> None:
    query = make_plan(LogOptions(previous=True), EVERYTHING).query

    assert query == LogQuery(uid="u", namespace="ns", name="p", container="c", previous=True)
    request = query.request()
    assert (request.pod.uid, request.container, request.previous) == ("u", "c", True)
    assert not request.HasField("tail_lines")

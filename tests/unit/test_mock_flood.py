"""The mock's synthetic log flood (``log-flood``): exact sizes, lazily generated, every log option honoured, and the
container exits after writing it so that following ends."""

from __future__ import annotations

import itertools
import json

import pytest

from virtualkubelet.provider.v1 import container_pb2, logs_pb2, pod_pb2
from vk_provider_mock import behaviour, streams
from vk_provider_mock.flood import Flood, parse_size
from vk_provider_mock.runtime import MockPod, timestamp
from vk_provider_sdk import errors

T0 = 1_000_000.0
MOCK = "mock.virtual-kubelet.io/"


def flood_pod(value: str, **annotations: str) -> MockPod:
    notes = {MOCK + "log-flood": value, **{MOCK + key.replace("_", "-"): v for key, v in annotations.items()}}
    spec = pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid="uid-1", namespace="ns", name="flood", annotations=notes),
        restart_policy=pod_pb2.RESTART_POLICY_NEVER,
        containers=[
            container_pb2.Container(
                name="app",
                image="busybox:1.36",
                command=["sh", "-c", "echo not run; sleep 3600"],
                termination_message_policy=container_pb2.TERMINATION_MESSAGE_POLICY_FALLBACK_TO_LOGS_ON_ERROR,
            )
        ],
    )
    pod = MockPod(spec, created_at=T0, pod_ip="10.244.0.5", behaviour=behaviour.from_annotations(notes))
    pod.advance(T0)
    return pod


class FakePods:
    def __init__(self, pod: MockPod) -> None:
        self.mock = pod

    def now(self) -> float:
        return T0 + 1

    def pod(self, ref: pod_pb2.PodRef) -> MockPod:
        return self.mock

    async def changed(self, within: float | None) -> None:
        raise AssertionError("a finished flood has nothing to wait for")

    def write_output(self, pod: MockPod, container: str, content: bytes, stream: str = "stdout") -> None:
        raise AssertionError("not used")


async def read(pod: MockPod, **fields: object) -> list[logs_pb2.GetContainerLogsResponse]:
    request = logs_pb2.GetContainerLogsRequest(pod=pod.ref, container="app", **fields)  # type: ignore[arg-type]
    return [message async for message in streams.container_logs(FakePods(pod), request)]


def text(messages: list[logs_pb2.GetContainerLogsResponse]) -> bytes:
    return b"".join(entry.content + b"\n" for message in messages for entry in message.entries)


# -- the annotation and the lines ---------------------------------------------------------------------------------


def test_the_annotation_takes_a_size_and_an_optional_line_length() -> None:
    assert behaviour.from_annotations({MOCK + "log-flood": "2000000,200"}).log_flood == Flood(2_000_000, 200)
    assert behaviour.from_annotations({MOCK + "log-flood": "1Gi"}).log_flood == Flood(1 << 30, 100)
    assert parse_size("2M") == 2_000_000
    assert parse_size("3Ki") == 3072


@pytest.mark.parametrize("value", ["", "lots", "100,0", "-5", "10,2Gi"])
def test_a_malformed_flood_is_refused_naming_the_annotation(value: str) -> None:
    with pytest.raises(errors.InvalidPod, match="log-flood"):
        behaviour.from_annotations({MOCK + "log-flood": value})


@pytest.mark.parametrize(("total", "length"), [(1000, 100), (1001, 100), (999, 100), (10, 1), (7, 3), (0, 100)])
def test_the_lines_add_up_to_exactly_the_size(total: int, length: int) -> None:
    flood = Flood(total, length)

    lines = [flood.content(i) + b"\n" for i in range(flood.lines)]

    assert sum(map(len, lines)) == total
    assert all(len(line) == length for line in lines[:-1])
    assert b"".join(group for chunk in flood.chunks(max_bytes=64) for group in chunk) == b"".join(
        line[:-1] for line in lines
    )


def test_a_line_says_its_number_then_the_alphabet() -> None:
    assert Flood(1000, 40).content(7) == b"7 abcdefghijklmnopqrstuvwxyzabcdefghijk"


def test_chunks_are_bounded_and_generated_one_at_a_time() -> None:
    flood = Flood(1 << 50, 100)  # a pebibyte: only laziness makes this test finish

    first = list(itertools.islice(flood.chunks(max_bytes=64 * 1024), 3))

    assert all(sum(map(len, chunk)) <= 64 * 1024 for chunk in first)
    assert first[1][0].startswith(b"%d " % len(first[0]))


# -- the container ------------------------------------------------------------------------------------------------


def test_the_container_writes_the_flood_instead_of_its_command_and_exits_at_once() -> None:
    pod = flood_pod("1000")
    run = pod.runs["app"]

    assert run.current is not None
    assert (run.current.finished_at, run.current.final_code, run.current.reason) == (T0, 0, "Completed")
    assert pod.log_lines(run, run.current, T0 + 1) == [], "the flood is generated when read, never stored"


def test_exit_code_applies_and_the_fallback_termination_message_is_the_flood_s_end() -> None:
    pod = flood_pod("1000,10", exit_code="3")
    current = pod.runs["app"].current

    assert current is not None
    assert (current.final_code, current.reason) == (3, "Error")
    assert current.message.endswith("99 abcdef")


def test_the_flood_survives_the_state_file() -> None:
    pod = flood_pod("5000,50")

    restored = MockPod.from_json(json.loads(json.dumps(pod.to_json())), lambda spec: pod.behaviour)

    assert restored.runs["app"].current is not None
    assert restored.runs["app"].current.flood == Flood(5000, 50)


# -- reading it ---------------------------------------------------------------------------------------------------


async def test_reading_gives_every_byte_in_batches_of_at_most_64_kib() -> None:
    pod = flood_pod("1000000,100")

    messages = await read(pod)

    assert len(text(messages)) == 1_000_000
    assert all(sum(len(e.content) for e in m.entries) <= 64 * 1024 for m in messages)
    first = messages[0].entries[0]
    assert first.content.startswith(b"0 abc")
    assert first.stream == logs_pb2.LOG_STREAM_STDOUT
    assert first.time.ToNanoseconds() == round(T0 * 1e9)


async def test_following_marks_the_end_of_the_history_on_the_last_batch_and_ends() -> None:
    pod = flood_pod("300000")

    messages = await read(pod, follow=True)

    assert [m.history_complete for m in messages] == [False] * (len(messages) - 1) + [True]
    assert len(text(messages)) == 300_000


async def test_tail_limit_and_since_are_applied_without_generating_the_rest() -> None:
    pod = flood_pod("1Ti,100")

    tail = await read(pod, tail_lines=2)
    limited = await read(pod, limit_bytes=250)
    later = await read(pod, since_time=timestamp(T0 + 0.5))

    last = Flood(1 << 40, 100).lines - 1
    assert [e.content.split()[0] for m in tail for e in m.entries] == [b"%d" % (last - 1), b"%d" % last]
    assert [e.content.split()[0] for m in limited for e in m.entries] == [b"0", b"1", b"2"]
    assert later == []

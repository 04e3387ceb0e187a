"""Container logs and each option the provider declares (logs.proto, capabilities.proto LogsCapabilities)."""

from __future__ import annotations

import datetime
import uuid

import grpc
import pytest
import pytest_asyncio
from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import capabilities_pb2, logs_pb2, pod_pb2, provider_pb2_grpc
from vk_conformance import describe
from vk_conformance.connection import Settings
from vk_conformance.expect import fail, refusal, require
from vk_conformance.plugin import RunningPod
from vk_conformance.pods import CONTAINER, HELLO, STARTED, KitPod, PodFactory, wait_finished, wait_running
from vk_conformance.sessions import LogRead, read_logs
from vk_conformance.watch import PodWatch

pytestmark = pytest.mark.asyncio(loop_scope="session")

LINES = ("conformance-1", "conformance-2", "conformance-3")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def lines_pod(pods: PodFactory, capabilities: capabilities_pb2.Capabilities) -> KitPod:
    """A pod that prints three lines and exits 0: enough lines to see tail, limit and since at work."""
    require(capabilities, "logs.supported")
    kit_pod = pods.exits("log-lines", lines=LINES, code=0)
    await pods.create(kit_pod)
    return kit_pod


def _request(kit_pod: KitPod, **options: object) -> logs_pb2.GetContainerLogsRequest:
    return logs_pb2.GetContainerLogsRequest(pod=kit_pod.ref, container=CONTAINER, **options)  # type: ignore[arg-type]


async def _logs(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings, request: logs_pb2.GetContainerLogsRequest
) -> LogRead:
    try:
        return await read_logs(stub, request, within=settings.timeout)
    except grpc.aio.AioRpcError as error:
        fail(f"expected GetContainerLogs of {describe.ref(request.pod)} to succeed; got {describe.rpc_error(error)}")


def _timestamp(value: datetime.datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def test_logs_return_what_the_container_printed(
    exited_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported")
    await wait_finished(watch, exited_pod)
    read = await _logs(stub, settings, _request(exited_pod))
    if read.lines != [HELLO]:
        fail(f"expected the log of {exited_pod} (sh -c 'echo {HELLO}; exit 3') to be [{HELLO!r}]; got {read.lines!r}")
    streams = {entry.stream for entry in read.entries}
    if logs_pb2.LOG_STREAM_STDERR in streams:
        fail("expected the echoed line to be logged as stdout (or an unknown stream); got it marked stderr")


async def test_logs_honour_tail_lines(
    lines_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported", "logs.tail_lines")
    await wait_finished(watch, lines_pod)
    last_two = await _logs(stub, settings, _request(lines_pod, tail_lines=2))
    if last_two.lines != list(LINES[-2:]):
        fail(f"expected tail_lines=2 to return {list(LINES[-2:])!r}; got {last_two.lines!r}")
    none = await _logs(stub, settings, _request(lines_pod, tail_lines=0))
    if none.lines:
        fail(f"expected tail_lines=0 to return no lines; got {none.lines!r}")


async def test_logs_carry_the_backend_timestamps(
    lines_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported", "logs.timestamps")
    await wait_finished(watch, lines_pod)
    read = await _logs(stub, settings, _request(lines_pod, timestamps=True))
    untimed = [describe.log_lines([entry])[0] for entry in read.entries if not entry.HasField("time")]
    if untimed or not read.entries:
        fail(f"expected every entry to have a time (logs.timestamps is declared); got entries without: {untimed!r}")
    times = [entry.time.ToNanoseconds() for entry in read.entries]
    if times != sorted(times):
        fail(
            "expected entry times in the order the lines were written; "
            f"got {[entry.time.ToJsonString() for entry in read.entries]}"
        )


async def test_logs_honour_limit_bytes(
    lines_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported", "logs.limit_bytes")
    await wait_finished(watch, lines_pod)
    full = b"".join(entry.content for entry in (await _logs(stub, settings, _request(lines_pod))).entries)
    limit = 5
    read = await _logs(stub, settings, _request(lines_pod, limit_bytes=limit))
    contents = [entry.content for entry in read.entries]
    sent = b"".join(contents)
    if not full.startswith(sent) or len(sent) < min(limit, len(full)):
        fail(f"expected limit_bytes={limit} to send the start of the log, at least {limit} bytes of it; got {sent!r}")
    if len(b"".join(contents[:-1])) >= limit:
        fail(f"expected the provider to stop once it had sent {limit} bytes; got {len(contents)} entries: {contents!r}")


async def test_logs_honour_since(
    lines_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported", "logs.since")
    await wait_finished(watch, lines_pod)
    now = datetime.datetime.now(datetime.UTC)
    future = await _logs(stub, settings, _request(lines_pod, since_time=_timestamp(now + datetime.timedelta(hours=1))))
    if future.lines:
        fail(f"expected since_time an hour from now to return no lines; got {future.lines!r}")
    past = await _logs(stub, settings, _request(lines_pod, since_time=_timestamp(now - datetime.timedelta(hours=1))))
    if past.lines != list(LINES):
        fail(f"expected since_time an hour ago to return every line {list(LINES)!r}; got {past.lines!r}")
    if capabilities.logs.timestamps and len(past.entries) == len(LINES):
        since = past.entries[1].time
        expected = [
            line
            for entry, line in zip(past.entries, LINES, strict=True)
            if entry.time.ToNanoseconds() >= since.ToNanoseconds()
        ]
        later = await _logs(stub, settings, _request(lines_pod, since_time=since))
        if later.lines != expected:
            fail(
                f"expected since_time = the second entry's time ({since.ToJsonString()}) to return the entries "
                f"from that time on, {expected!r}; got {later.lines!r}"
            )


async def test_logs_follow_streams_while_the_container_runs(
    running_pod: RunningPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported", "logs.follow")
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)

    def has_history(read: LogRead) -> bool:
        return read.history_complete and STARTED in read.lines

    try:
        read = await read_logs(stub, _request(kit_pod, follow=True), within=settings.timeout, until=has_history)
    except grpc.aio.AioRpcError as error:
        fail(
            f"expected GetContainerLogs(follow=true) of the running pod {kit_pod} to stream; "
            f"got {describe.rpc_error(error)}"
        )
    if read.ended:
        fail(
            f"expected the follow stream of a running container to stay open with {STARTED!r} and history_complete; "
            f"it ended with OK after lines {read.lines!r} (history_complete={read.history_complete})"
        )


async def test_logs_follow_ends_when_the_container_has_exited(
    exited_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported", "logs.follow")
    await wait_finished(watch, exited_pod)
    read = await _logs(stub, settings, _request(exited_pod, follow=True))
    if read.lines != [HELLO]:
        fail(f"expected the followed log of the exited {exited_pod} to be [{HELLO!r}]; got {read.lines!r}")


async def test_logs_previous_of_a_container_that_never_restarted_fails_precondition(
    exited_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported", "logs.previous")
    await wait_finished(watch, exited_pod)
    await refusal(
        f"GetContainerLogs(previous=true) of {exited_pod}, whose container never restarted",
        read_logs(stub, _request(exited_pod, previous=True), within=settings.timeout),
        (grpc.StatusCode.FAILED_PRECONDITION,),
    )


async def test_logs_of_an_unknown_pod_or_container_are_not_found(
    exited_pod: KitPod,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "logs.supported")
    unknown = pod_pb2.PodRef(uid=str(uuid.uuid4()), namespace="conformance-unknown", name="never-created")
    await refusal(
        "GetContainerLogs of a pod the provider was never sent",
        read_logs(stub, logs_pb2.GetContainerLogsRequest(pod=unknown, container=CONTAINER), within=settings.timeout),
        (grpc.StatusCode.NOT_FOUND,),
    )
    await refusal(
        f"GetContainerLogs of container 'no-such-container' of {exited_pod}",
        read_logs(
            stub,
            logs_pb2.GetContainerLogsRequest(pod=exited_pod.ref, container="no-such-container"),
            within=settings.timeout,
        ),
        (grpc.StatusCode.NOT_FOUND,),
    )

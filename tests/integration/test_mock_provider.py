"""vk-provider-mock over real gRPC: pods run their scripts, restart, log, exec, attach, forward, report usage, and
survive a provider kill -9 without being created twice.

Most tests serve a MockProvider in-process on a free loopback port; the command-line tests run the
``vk-provider-mock`` console script as a process, as a deployment would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import grpc
import pytest
from session_calls import converse

from virtualkubelet.provider.v1 import (
    container_pb2,
    handshake_pb2,
    logs_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    stats_pb2,
    status_pb2,
    streaming_pb2,
    volume_pb2,
)
from vk_provider_mock import MockProvider
from vk_provider_sdk import errors, serve

if TYPE_CHECKING:
    Stub = provider_pb2_grpc.ProviderServiceAsyncStub

T = TypeVar("T")
MOCK = "mock.virtual-kubelet.io/"
NEVER, ALWAYS = pod_pb2.RESTART_POLICY_NEVER, pod_pb2.RESTART_POLICY_ALWAYS
FAILED, SUCCEEDED, RUNNING = status_pb2.POD_PHASE_FAILED, status_pb2.POD_PHASE_SUCCEEDED, status_pb2.POD_PHASE_RUNNING
_uids = iter(range(1, 1_000_000))


# -- helpers ------------------------------------------------------------------------------------------------------


def make_pod(
    *command: str,
    policy: pod_pb2.RestartPolicy.ValueType = NEVER,
    annotations: dict[str, str] | None = None,
    **container_fields: Any,
) -> pod_pb2.Pod:
    uid = f"uid-{next(_uids)}"
    app = container_pb2.Container(name="app", image="busybox:1.36", command=list(command), **container_fields)
    return pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(
            uid=uid,
            namespace="ns",
            name=f"pod-{uid}",
            annotations={MOCK + key: value for key, value in (annotations or {}).items()},
        ),
        revision="r1",
        restart_policy=policy,
        containers=[app],
    )


def ref(pod: pod_pb2.Pod) -> pod_pb2.PodRef:
    return pod_pb2.PodRef(uid=pod.metadata.uid, namespace=pod.metadata.namespace, name=pod.metadata.name)


def app_status(record: status_pb2.PodRecord) -> status_pb2.ContainerStatus:
    return record.status.container_statuses[0]


async def create(stub: Stub, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
    return await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod))


async def wait_for_record(
    stub: Stub, pod: pod_pb2.Pod, check: Callable[[status_pb2.PodRecord], bool], within: float = 5
) -> status_pb2.PodRecord:
    """Watch until the pod's record satisfies ``check``; the last record seen is in the failure message."""
    watch = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
    last: status_pb2.PodRecord | None = None
    try:
        async with asyncio.timeout(within):
            async for event in watch:
                if event.HasField("pod") and event.pod.ref.uid == pod.metadata.uid:
                    last = event.pod
                    if check(last):
                        return last
    except TimeoutError:
        pass
    finally:
        watch.cancel()
    raise AssertionError(f"the pod never got there; last record:\n{last}")


async def read(call: grpc.aio.UnaryStreamCall[Any, T] | grpc.aio.StreamStreamCall[Any, T]) -> T:
    message = await asyncio.wait_for(call.read(), 5)
    assert message is not grpc.aio.EOF, "the stream ended"
    return cast(T, message)


async def rpc_error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


@pytest.fixture
async def mock() -> MockProvider:
    return MockProvider()


@pytest.fixture
async def stub(mock: MockProvider) -> AsyncIterator[Stub]:
    async with serve(mock) as server, grpc.aio.insecure_channel(server.address) as channel:
        yield provider_pb2_grpc.ProviderServiceStub(channel)


# -- handshake and pod lifecycle ----------------------------------------------------------------------------------


async def test_the_handshake_declares_every_capability_the_mock_implements(stub: Stub) -> None:
    request = handshake_pb2.HandshakeRequest(protocol_version=handshake_pb2.ProtocolVersion(major=1), node_name="n")

    answer = await stub.Handshake(request)

    caps = answer.capabilities
    assert answer.provider_name == "mock"
    assert all(getattr(caps.logs, option) for option in ("follow", "since", "tail_lines", "limit_bytes", "previous"))
    assert caps.logs.timestamps
    for session in (caps.exec, caps.attach):
        assert all(getattr(session, option) for option in ("tty", "stdin", "separate_stderr", "exit_status", "resize"))
    assert all(c.supported for c in (caps.port_forward, caps.stats, caps.metrics, caps.volume_updates))
    assert answer.node.capacity["pods"] == "1000"


async def test_sh_c_echo_then_exit_3_logs_the_line_and_fails_the_pod(stub: Stub) -> None:
    pod = make_pod("sh", "-c", "echo hi; exit 3")
    await create(stub, pod)

    record = await wait_for_record(stub, pod, lambda r: r.status.phase == FAILED)

    terminated = app_status(record).state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")
    log = [m async for m in stub.GetContainerLogs(logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="app"))]
    assert [entry.content for message in log for entry in message.entries] == [b"hi"]


async def test_a_script_exiting_0_succeeds(stub: Stub) -> None:
    pod = make_pod("/bin/sh", "-c", "echo ok && exit 0")
    await create(stub, pod)

    record = await wait_for_record(stub, pod, lambda r: r.status.phase == SUCCEEDED)

    assert app_status(record).state.terminated.reason == "Completed"


async def test_a_running_pod_has_a_fake_ip_from_the_documented_range(stub: Stub) -> None:
    pod = make_pod()
    response = await create(stub, pod)

    assert response.status.phase == RUNNING
    [address] = response.status.pod_ips
    assert address.startswith("10.244.")


async def test_a_crash_loop_restarts_with_growing_counts_and_back_off_in_between(stub: Stub) -> None:
    pod = make_pod(policy=ALWAYS, annotations={"crash-loop": "0.02s", "restart-backoff": "0.02s"})
    await create(stub, pod)
    seen_back_off = False

    def restarted_twice_after_back_off(record: status_pb2.PodRecord) -> bool:
        nonlocal seen_back_off
        status = app_status(record)
        seen_back_off |= status.state.waiting.reason == "CrashLoopBackOff"
        return seen_back_off and status.restart_count >= 2

    record = await wait_for_record(stub, pod, restarted_twice_after_back_off)

    assert app_status(record).last_termination_state.exit_code == 1
    assert record.status.phase == RUNNING


async def test_create_is_idempotent_by_uid(stub: Stub, mock: MockProvider) -> None:
    pod = make_pod()
    first = await create(stub, pod)
    second = await create(stub, pod)

    assert not first.already_existed
    assert second.already_existed
    assert mock.creates[pod.metadata.uid] == 1


async def test_fail_create_answers_invalid_argument_with_the_reason(stub: Stub, mock: MockProvider) -> None:
    pod = make_pod(annotations={"fail-create": "ImageNotAllowed: images from this registry are refused"})

    error = await rpc_error(create(stub, pod))

    parsed = errors.from_rpc_error(error)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (parsed.reason, parsed.message) == ("ImageNotAllowed", "images from this registry are refused")
    assert parsed.domain == "mock"
    assert pod.metadata.uid not in mock.creates


async def test_deleting_an_unknown_uid_is_ok_and_gone(stub: Stub) -> None:
    answer = await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=pod_pb2.PodRef(uid="never-existed")))

    assert answer.state == pod_requests_pb2.DELETION_STATE_GONE


async def test_delete_with_a_grace_period_terminates_then_sends_a_requested_deletion(stub: Stub) -> None:
    pod = make_pod(annotations={"stop-delay": "0.05s"})
    await create(stub, pod)
    watch = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
    while not (await read(watch)).HasField("synced"):
        pass

    answer = await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref(pod), grace_period_seconds=30))

    assert answer.state == pod_requests_pb2.DELETION_STATE_TERMINATING
    assert (await read(watch)).pod.deleting
    deleted = (await read(watch)).deleted
    assert deleted.requested
    assert deleted.final_status.container_statuses[0].state.terminated.exit_code == 0
    missing = await rpc_error(stub.GetPod(pod_requests_pb2.GetPodRequest(pod=ref(pod))))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    watch.cancel()


async def test_delete_with_grace_0_is_gone_at_once(stub: Stub) -> None:
    pod = make_pod()
    await create(stub, pod)

    answer = await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref(pod), grace_period_seconds=0))

    assert answer.state == pod_requests_pb2.DELETION_STATE_GONE
    assert answer.status.container_statuses[0].state.terminated.exit_code == 137
    listed = await stub.ListPods(pod_requests_pb2.ListPodsRequest())
    assert pod.metadata.uid not in {record.ref.uid for record in listed.pods}


async def test_update_stores_the_revision_and_an_image_change_restarts_the_container(stub: Stub) -> None:
    pod = make_pod()
    await create(stub, pod)
    pod.revision = "r2"
    pod.containers[0].image = "busybox:1.37"

    await stub.UpdatePod(pod_requests_pb2.UpdatePodRequest(pod=pod))

    record = (await stub.GetPod(pod_requests_pb2.GetPodRequest(pod=ref(pod)))).pod
    assert record.revision == "r2"
    assert (app_status(record).image, app_status(record).restart_count) == ("busybox:1.37", 1)


# -- logs ---------------------------------------------------------------------------------------------------------


async def log_lines(stub: Stub, pod: pod_pb2.Pod, **options: Any) -> list[bytes]:
    request = logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="app", **options)
    return [entry.content async for message in stub.GetContainerLogs(request) for entry in message.entries]


async def test_log_options_are_applied_by_the_mock(stub: Stub) -> None:
    pod = make_pod("sh", "-c", "echo one; sleep 0.2; echo two; echo three; exit 0")
    await create(stub, pod)
    await wait_for_record(stub, pod, lambda r: r.status.phase == SUCCEEDED)

    request = logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="app")
    entries = [entry async for message in stub.GetContainerLogs(request) for entry in message.entries]
    assert [e.content for e in entries] == [b"one", b"two", b"three"]
    assert all(e.HasField("time") and e.stream == logs_pb2.LOG_STREAM_STDOUT for e in entries)
    gap = entries[1].time.ToNanoseconds() - entries[0].time.ToNanoseconds()
    assert gap == pytest.approx(0.2e9, rel=0.01), "lines carry the times they were written"

    assert await log_lines(stub, pod, tail_lines=2) == [b"two", b"three"]
    assert await log_lines(stub, pod, since_time=entries[1].time) == [b"two", b"three"]
    assert await log_lines(stub, pod, limit_bytes=4) == [b"one", b"two"]
    assert await log_lines(stub, pod, tail_lines=0) == []


async def test_follow_sends_history_then_new_lines_until_the_container_stops(stub: Stub) -> None:
    pod = make_pod("sh", "-c", "echo before; sleep 0.1; echo after; sleep 0.1; exit 0")
    await create(stub, pod)
    request = logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="app", follow=True)

    messages = [message async for message in stub.GetContainerLogs(request, timeout=5)]

    history_end = next(i for i, message in enumerate(messages) if message.history_complete)
    history = [entry.content for message in messages[: history_end + 1] for entry in message.entries]
    later = [entry.content for message in messages[history_end + 1 :] for entry in message.entries]
    assert (history, later) == ([b"before"], [b"after"])


async def test_previous_reads_the_instance_before_the_restart(stub: Stub) -> None:
    pod = make_pod("sh", "-c", "echo instance; sleep 0.3", policy=ALWAYS, annotations={"restart-backoff": "0.02s"})
    await create(stub, pod)
    await wait_for_record(
        stub, pod, lambda r: app_status(r).restart_count == 1 and app_status(r).state.HasField("running")
    )

    [previous] = [
        entry
        async for message in stub.GetContainerLogs(
            logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="app", previous=True)
        )
        for entry in message.entries
    ]
    [current] = [
        entry
        async for message in stub.GetContainerLogs(logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="app"))
        for entry in message.entries
    ]
    assert previous.content == current.content == b"instance"
    assert current.time.ToNanoseconds() - previous.time.ToNanoseconds() >= 0.3e9


async def test_logs_of_a_container_not_started_yet_are_a_failed_precondition(stub: Stub) -> None:
    pod = make_pod(annotations={"startup-delay": "10s"})
    await create(stub, pod)

    error = await rpc_error(log_lines(stub, pod))
    no_previous = await rpc_error(log_lines(stub, pod, previous=True))
    unknown = await rpc_error(
        stub.GetContainerLogs(logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="nope")).read()
    )

    assert error.code() == no_previous.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert unknown.code() == grpc.StatusCode.NOT_FOUND


# -- exec, attach, port-forward -----------------------------------------------------------------------------------


async def run_exec(
    stub: Stub, pod: pod_pb2.Pod, *command: str, stdin: list[bytes] | None = None, tty: bool = False
) -> tuple[bytes, bytes, int]:
    start = streaming_pb2.ExecStart(
        pod=ref(pod), container="app", command=command, tty=tty, stdin=stdin is not None, stdout=True, stderr=True
    )
    requests = []
    for chunk in stdin or []:
        requests.append(streaming_pb2.ExecRequest(input=streaming_pb2.StreamInput(stdin=chunk)))
    if stdin is not None:
        close = streaming_pb2.StreamInput(close_stdin=streaming_pb2.CloseStdin())
        requests.append(streaming_pb2.ExecRequest(input=close))
    out, err, code = b"", b"", -1
    for message in await converse(stub.Exec, streaming_pb2.ExecRequest(start=start), requests, deadline=5):
        if message.HasField("output"):
            out += message.output.stdout
            err += message.output.stderr
        elif message.HasField("exit"):
            assert message.exit.state == streaming_pb2.EXIT_STATUS_STATE_KNOWN
            code = message.exit.code
    return out, err, code


@pytest.fixture
async def running_pod(stub: Stub) -> pod_pb2.Pod:
    config = volume_pb2.FilesVolume(files=[volume_pb2.VolumeFile(path="app.yaml", content=b"mode: test\n")])
    pod = make_pod(
        env=[
            container_pb2.EnvVar(name="GREETING", value="hello"),
            container_pb2.EnvVar(name="MY_IP", runtime_value=container_pb2.RUNTIME_VALUE_POD_IP),
        ],
        volume_mounts=[container_pb2.VolumeMount(name="config", mount_path="/etc/config")],
        stdin=True,
    )
    pod.volumes.append(volume_pb2.Volume(name="config", files=config))
    await create(stub, pod)
    return pod


async def test_exec_echo_exit_and_unknown_commands(stub: Stub, running_pod: pod_pb2.Pod) -> None:
    assert await run_exec(stub, running_pod, "echo", "hello", "world") == (b"hello world\n", b"", 0)
    assert await run_exec(stub, running_pod, "sh", "-c", "echo partial; exit 4") == (b"partial\n", b"", 4)
    assert await run_exec(stub, running_pod, "ls", "/") == (b"", b"sh: ls: not found\n", 127)


async def test_exec_env_shows_the_resolved_environment_with_runtime_values(
    stub: Stub, running_pod: pod_pb2.Pod
) -> None:
    out, _, code = await run_exec(stub, running_pod, "env")

    record = (await stub.GetPod(pod_requests_pb2.GetPodRequest(pod=ref(running_pod)))).pod
    lines = out.decode().splitlines()
    assert "GREETING=hello" in lines
    assert f"MY_IP={record.status.pod_ips[0]}" in lines
    assert code == 0


async def test_exec_cat_reads_mounted_files_and_stdin(stub: Stub, running_pod: pod_pb2.Pod) -> None:
    assert await run_exec(stub, running_pod, "cat", "/etc/config/app.yaml") == (b"mode: test\n", b"", 0)
    _, err, code = await run_exec(stub, running_pod, "cat", "/etc/shadow")
    assert (err, code) == (b"cat: /etc/shadow: No such file or directory\n", 1)
    assert await run_exec(stub, running_pod, "cat", stdin=[b"typed ", b"text"]) == (b"typed text", b"", 0)


async def test_exec_with_a_tty_merges_stderr_into_stdout(stub: Stub, running_pod: pod_pb2.Pod) -> None:
    assert await run_exec(stub, running_pod, "nope", tty=True) == (b"sh: nope: not found\n", b"", 127)


async def test_exec_separates_stderr_redirected_with_greater_and_2_and_merges_it_with_2_greater_and_1(
    stub: Stub, running_pod: pod_pb2.Pod
) -> None:
    script = "echo to-stdout; echo to-stderr >&2"
    assert await run_exec(stub, running_pod, "sh", "-c", script) == (b"to-stdout\n", b"to-stderr\n", 0)
    assert await run_exec(stub, running_pod, "sh", "-c", "ls / 2>&1") == (b"sh: ls: not found\n", b"", 127)
    assert await run_exec(stub, running_pod, "sh", "-c", script, tty=True) == (b"to-stdout\nto-stderr\n", b"", 0)


async def test_a_script_s_stderr_lines_are_logged_as_stderr(stub: Stub) -> None:
    pod = make_pod("sh", "-c", "echo out; echo err >&2; exit 0")
    await create(stub, pod)
    await wait_for_record(stub, pod, lambda r: r.status.phase == SUCCEEDED)

    entries = await log_lines_of(stub, pod)

    assert [(entry.stream, entry.content) for entry in entries] == [
        (logs_pb2.LOG_STREAM_STDOUT, b"out"),
        (logs_pb2.LOG_STREAM_STDERR, b"err"),
    ]


async def test_exec_into_a_container_that_does_not_run_is_refused(stub: Stub) -> None:
    pod = make_pod(annotations={"startup-delay": "10s"})
    await create(stub, pod)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await run_exec(stub, pod, "echo")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_attach_echoes_stdin_and_ends_with_the_process_exit(stub: Stub) -> None:
    pod = make_pod("sh", "-c", "sleep 0.3; echo bye; exit 4", stdin=True)
    await create(stub, pod)
    start = streaming_pb2.AttachStart(pod=ref(pod), container="app", stdin=True, stdout=True, stderr=True)
    call = stub.Attach(timeout=5)
    await call.write(streaming_pb2.AttachRequest(start=start))
    assert (await read(call)).HasField("started")

    await call.write(streaming_pb2.AttachRequest(input=streaming_pb2.StreamInput(stdin=b"hello\n")))

    assert (await read(call)).output.stdout == b"hello\n"
    assert (await read(call)).output.stdout == b"bye\n"
    assert (await read(call)).exit.code == 4
    log = [entry.content for entry in await log_lines_of(stub, pod)]
    assert log == [b"hello", b"bye"], "what the process echoed is in its log too"


async def log_lines_of(stub: Stub, pod: pod_pb2.Pod) -> list[logs_pb2.LogEntry]:
    request = logs_pb2.GetContainerLogsRequest(pod=ref(pod), container="app")
    return [entry async for message in stub.GetContainerLogs(request) for entry in message.entries]


async def test_attach_with_stdin_to_a_container_without_stdin_is_refused(stub: Stub) -> None:
    pod = make_pod()
    await create(stub, pod)
    start = streaming_pb2.AttachStart(pod=ref(pod), container="app", stdin=True, stdout=True)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await converse(stub.Attach, streaming_pb2.AttachRequest(start=start), deadline=5)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def forward(stub: Stub, pod: pod_pb2.Pod, port: int, *chunks: bytes) -> tuple[list[str | None], bytes]:
    """One connection: send ``chunks``, half-close, read to the end; (message kinds, data received)."""
    start = streaming_pb2.PortForwardRequest(start=streaming_pb2.PortForwardStart(pod=ref(pod), port=port))
    requests = [streaming_pb2.PortForwardRequest(data=chunk) for chunk in chunks]
    requests.append(streaming_pb2.PortForwardRequest(close_write=streaming_pb2.CloseWrite()))
    kinds: list[str | None] = []
    data = b""
    for message in await converse(stub.PortForward, start, requests, deadline=5):
        kinds.append(message.WhichOneof("payload"))
        data += message.data
    return kinds, data


async def refused(stub: Stub, pod: pod_pb2.Pod, port: int) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await forward(stub, pod, port, b"anyone?")
    return caught.value


def refusal(pod: pod_pb2.Pod, port: int) -> tuple[grpc.StatusCode, str]:
    return (
        grpc.StatusCode.UNAVAILABLE,
        f"connection refused: nothing listens on port {port} in pod ns/{pod.metadata.name}",
    )


async def test_port_forward_reaches_the_echo_server_tcpsvd_runs_and_nothing_else(stub: Stub) -> None:
    pod = make_pod("sh", "-c", "echo started; tcpsvd 0.0.0.0 8080 cat")
    await create(stub, pod)
    await wait_for_record(stub, pod, lambda r: r.status.phase == RUNNING)

    kinds, data = await forward(stub, pod, 8080, b"ping ", b"pong")
    error = await refused(stub, pod, 8081)

    assert data == b"ping pong"
    assert (kinds[0], kinds[-1]) == ("started", "close_write")
    assert (error.code(), error.details()) == refusal(pod, 8081)
    record = await stub.GetPod(pod_requests_pb2.GetPodRequest(pod=ref(pod)))
    assert app_status(record.pod).state.HasField("running"), "tcpsvd serves until stopped"
    assert [entry.content for entry in await log_lines_of(stub, pod)] == [b"started"]


async def test_port_forward_to_a_declared_container_port_echoes_and_other_ports_are_refused(stub: Stub) -> None:
    pod = make_pod(ports=[container_pb2.ContainerPort(container_port=80, protocol=container_pb2.PORT_PROTOCOL_TCP)])
    await create(stub, pod)

    kinds, data = await forward(stub, pod, 80, b"GET / HTTP/1.0\r\n\r\n")
    error = await refused(stub, pod, 8080)

    assert (kinds[0], kinds[-1], data) == ("started", "close_write", b"GET / HTTP/1.0\r\n\r\n")
    assert (error.code(), error.details()) == refusal(pod, 8080)


async def test_every_connection_runs_the_program_tcpsvd_serves_with_its_errors_in_the_log(stub: Stub) -> None:
    greeter = make_pod("tcpsvd", "-v", "0", "7000", "echo", "hello")
    broken = make_pod("sh", "-c", "tcpsvd 0 7000 nope")
    for pod in (greeter, broken):
        await create(stub, pod)

    assert await forward(stub, greeter, 7000) == (["started", "data", "close_write"], b"hello\n")
    assert await forward(stub, greeter, 7000) == (["started", "data", "close_write"], b"hello\n")
    assert await forward(stub, broken, 7000) == (["started", "close_write"], b"")
    [entry] = await log_lines_of(stub, broken)
    assert (entry.stream, entry.content) == (logs_pb2.LOG_STREAM_STDERR, b"sh: nope: not found")


async def test_tcpsvd_run_by_exec_listens_while_the_session_lasts(stub: Stub, running_pod: pod_pb2.Pod) -> None:
    start = streaming_pb2.ExecStart(pod=ref(running_pod), container="app", command=["tcpsvd", "0", "9000", "cat"])
    server = stub.Exec(timeout=10)
    await server.write(streaming_pb2.ExecRequest(start=start))
    assert (await read(server)).HasField("started")

    assert (await forward(stub, running_pod, 9000, b"echo"))[1] == b"echo"
    in_use = (b"", b"tcpsvd: bind: Address already in use\n", 1)
    assert await run_exec(stub, running_pod, "tcpsvd", "127.0.0.1", "9000", "cat") == in_use

    server.cancel()  # the user goes away: the session, and so the server, ends
    closed: grpc.aio.AioRpcError | None = None
    async with asyncio.timeout(5):
        while closed is None:
            try:
                await forward(stub, running_pod, 9000)
            except grpc.aio.AioRpcError as error:
                closed = error
            else:
                await asyncio.sleep(0.02)
    assert (closed.code(), closed.details()) == refusal(running_pod, 9000)


async def test_port_forward_to_a_pod_not_running_is_a_failed_precondition(stub: Stub) -> None:
    pod = make_pod(annotations={"startup-delay": "10s"})
    await create(stub, pod)

    error = await refused(stub, pod, 8080)

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


# -- stats --------------------------------------------------------------------------------------------------------


async def test_stats_follow_declared_resources_grow_with_time_and_skip_pods_not_running(stub: Stub) -> None:
    resources = container_pb2.ResourceRequirements(
        requests=container_pb2.ResourceList(cpu_millicores=500, memory_bytes=100 * 2**20),
        limits=container_pb2.ResourceList(memory_bytes=200 * 2**20),
    )
    running = make_pod(resources=resources)
    waiting = make_pod(annotations={"startup-delay": "10s"})
    await create(stub, running)
    await create(stub, waiting)

    first = await stub.GetStatsSummary(stats_pb2.GetStatsSummaryRequest())
    await asyncio.sleep(0.05)
    second = await stub.GetStatsSummary(stats_pb2.GetStatsSummaryRequest())

    assert [p.pod.uid for p in second.pods] == [running.metadata.uid]
    [container] = second.pods[0].containers
    assert container.cpu.usage_nano_cores == 50_000_000, "10% of the 500m request"
    assert container.memory.working_set_bytes == 50 * 2**20, "half the memory request"
    assert container.memory.available_bytes == 150 * 2**20
    before = first.pods[0].containers[0].cpu.usage_core_nano_seconds
    assert container.cpu.usage_core_nano_seconds > before
    assert second.node.cpu.usage_core_nano_seconds >= second.pods[0].cpu.usage_core_nano_seconds > 0


# -- the command line and the state file --------------------------------------------------------------------------

SCRIPT = Path(sys.executable).parent / "vk-provider-mock"


def _read(path: Path) -> str:
    return path.read_text()


class MockProcess:
    """The console script as a child process; its stdout's first line gives the address."""

    def __init__(self, process: asyncio.subprocess.Process, address: str) -> None:
        self.process = process
        self.address = address

    @classmethod
    async def start(cls, *args: str, log: Path) -> MockProcess:
        with log.open("ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                str(SCRIPT), "--listen", "127.0.0.1:0", *args, stdout=asyncio.subprocess.PIPE, stderr=stderr
            )
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line.startswith("listening on "), f"unexpected first line {line!r}; log:\n{_read(log)}"
        return cls(process, line.removeprefix("listening on ").strip())

    async def stop(self, signum: int) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), 20)


async def handshake(stub: Stub) -> handshake_pb2.HandshakeResponse:
    request = handshake_pb2.HandshakeRequest(protocol_version=handshake_pb2.ProtocolVersion(major=1), node_name="n")
    return await stub.Handshake(request)


async def test_the_console_script_serves_until_sigterm_and_exits_cleanly(tmp_path: Path) -> None:
    mock = await MockProcess.start("--name", "demo", "--capacity", "pods=5", log=tmp_path / "mock.log")
    try:
        async with grpc.aio.insecure_channel(mock.address) as channel:
            answer = await handshake(provider_pb2_grpc.ProviderServiceStub(channel))
    finally:
        code = await mock.stop(signal.SIGTERM)

    assert (answer.provider_name, answer.node.capacity["pods"]) == ("demo", "5")
    assert code == 0


async def test_pods_and_create_counts_survive_kill_9_and_timers_resume(tmp_path: Path) -> None:
    state_file = tmp_path / "backend.json"
    log = tmp_path / "mock.log"
    forever = make_pod()
    finishing = make_pod("sh", "-c", "sleep 1; exit 0")

    first = await MockProcess.start("--state-file", str(state_file), log=log)
    async with grpc.aio.insecure_channel(first.address) as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        before = await handshake(stub)
        await create(stub, forever)
        await create(stub, finishing)
        running = await wait_for_record(stub, finishing, lambda r: r.status.phase == RUNNING)
        started_at = app_status(running).state.running.started_at
    await first.stop(signal.SIGKILL)

    second = await MockProcess.start("--state-file", str(state_file), log=log)
    try:
        async with grpc.aio.insecure_channel(second.address) as channel:
            stub = provider_pb2_grpc.ProviderServiceStub(channel)
            after = await handshake(stub)
            listed = {
                record.ref.uid: record for record in (await stub.ListPods(pod_requests_pb2.ListPodsRequest())).pods
            }
            again = await create(stub, forever)
            done = await wait_for_record(stub, finishing, lambda r: r.status.phase == SUCCEEDED)
    finally:
        await second.stop(signal.SIGTERM)

    assert after.instance_id != before.instance_id, "a restart is visible to the controller"
    assert set(listed) == {forever.metadata.uid, finishing.metadata.uid}
    assert listed[forever.metadata.uid].status.phase == RUNNING
    assert again.already_existed
    # The timer kept its time: the run is the one that started before the kill, and it lasted its second.
    terminated = app_status(done).state.terminated
    assert terminated.started_at == started_at
    seconds = (terminated.finished_at.ToNanoseconds() - started_at.ToNanoseconds()) / 1e9
    assert seconds == pytest.approx(1, abs=0.3)
    stored = json.loads(_read(state_file))
    assert stored["creates"] == {forever.metadata.uid: 1, finishing.metadata.uid: 1}
    assert set(stored["pods"]) == {forever.metadata.uid, finishing.metadata.uid}
    assert os.stat(state_file).st_mode & 0o077 == 0, "the state file holds secrets: owner only"

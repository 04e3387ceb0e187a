"""Exec: session shape, exit status and output streams (streaming.proto; capabilities.proto exec)."""

from __future__ import annotations

import uuid

import grpc
import pytest

from virtualkubelet.provider.v1 import capabilities_pb2, pod_pb2, provider_pb2_grpc, streaming_pb2
from vk_conformance import describe
from vk_conformance.connection import Settings
from vk_conformance.expect import fail, require
from vk_conformance.hook import ExecExpectation, ScriptedOutcomes
from vk_conformance.plugin import RunningPod
from vk_conformance.pods import CONTAINER, KitPod, wait_finished, wait_running
from vk_conformance.sessions import SessionResult, run_exec
from vk_conformance.watch import PodWatch

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _exec(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    hook: ScriptedOutcomes,
    ref: pod_pb2.PodRef,
    expectation: ExecExpectation | None,
    *,
    command: tuple[str, ...] = (),
    container: str = CONTAINER,
) -> SessionResult:
    """One exec session; the hook hears of it only when the kit expects the command to run (``expectation``)."""
    if expectation is not None:
        await hook.before_exec(ref, container, expectation)
        command = expectation.command
    start = streaming_pb2.ExecStart(pod=ref, container=container, command=list(command), stdout=True, stderr=True)
    return await run_exec(stub, start, within=settings.timeout)


def _check_shape(result: SessionResult, what: str) -> streaming_pb2.ExitStatus:
    """``started`` first, ``exit`` last and once, then OK: the shape of every exec session."""
    if result.error is not None or result.timed_out:
        fail(f"expected {what} to run to its end and finish with OK; got {result.summary()}")
    if result.first != "started":
        fail(f"expected {what} to begin with `started`; got {result.summary()}")
    if result.exit is None or result.kinds[-1] != "exit" or result.kinds.count("exit") != 1:
        fail(f"expected {what} to end with exactly one `exit` message, last; got {result.summary()}")
    return result.exit


def _check_exit(exit_status: streaming_pb2.ExitStatus, code: int, capabilities: capabilities_pb2.Capabilities) -> None:
    if capabilities.exec.exit_status:
        if exit_status.state != streaming_pb2.EXIT_STATUS_STATE_KNOWN or exit_status.code != code:
            fail(
                f"expected exit status KNOWN {code} (exec.exit_status is declared); "
                f"got {describe.exit_status(exit_status)}"
            )
    elif exit_status.state == streaming_pb2.EXIT_STATUS_STATE_KNOWN:
        fail(
            "expected exit status UNKNOWN (exec.exit_status is not declared, so the controller does not trust codes); "
            f"got {describe.exit_status(exit_status)}"
        )


async def test_exec_reports_a_failing_command_s_exit_code(
    running_pod: RunningPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    hook: ScriptedOutcomes,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "exec.supported")
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)
    command = ("sh", "-c", "exit 7")
    result = await _exec(stub, settings, hook, kit_pod.ref, ExecExpectation(command, b"", b"", 7))
    _check_exit(_check_shape(result, f"exec {describe.command(command)} in {kit_pod}"), 7, capabilities)


async def test_exec_reports_a_successful_command_s_exit_code(
    running_pod: RunningPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    hook: ScriptedOutcomes,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "exec.supported")
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)
    command = ("sh", "-c", "exit 0")
    result = await _exec(stub, settings, hook, kit_pod.ref, ExecExpectation(command, b"", b"", 0))
    _check_exit(_check_shape(result, f"exec {describe.command(command)} in {kit_pod}"), 0, capabilities)


async def test_exec_delivers_stdout_and_stderr(
    running_pod: RunningPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    hook: ScriptedOutcomes,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "exec.supported")
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)
    command = ("sh", "-c", "echo to-stdout; echo to-stderr >&2")
    expectation = ExecExpectation(command, b"to-stdout\n", b"to-stderr\n", 0)
    result = await _exec(stub, settings, hook, kit_pod.ref, expectation)
    _check_shape(result, f"exec {describe.command(command)} in {kit_pod}")
    if capabilities.exec.separate_stderr:
        if result.stdout != expectation.stdout or result.stderr != expectation.stderr:
            fail(
                "expected stdout b'to-stdout\\n' and stderr b'to-stderr\\n' apart (exec.separate_stderr is declared); "
                f"got stdout {result.stdout!r} and stderr {result.stderr!r}"
            )
    else:
        if result.stderr:
            fail(f"expected all output as stdout (exec.separate_stderr is not declared); got stderr {result.stderr!r}")
        if sorted(result.stdout.splitlines()) != [b"to-stderr", b"to-stdout"]:
            fail(f"expected both lines in stdout (exec.separate_stderr is not declared); got {result.stdout!r}")


async def test_exec_into_an_unknown_pod_or_container_is_not_found(
    running_pod: RunningPod,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    hook: ScriptedOutcomes,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "exec.supported")
    unknown = pod_pb2.PodRef(uid=str(uuid.uuid4()), namespace="conformance-unknown", name="never-created")
    for what, ref, container in (
        ("a pod the provider was never sent", unknown, CONTAINER),
        (f"container 'no-such-container' of {running_pod.kit_pod}", running_pod.kit_pod.ref, "no-such-container"),
    ):
        result = await _exec(stub, settings, hook, ref, None, command=("sh", "-c", "exit 0"), container=container)
        if result.error is None or result.error.code() != grpc.StatusCode.NOT_FOUND:
            fail(f"expected exec into {what} to fail with NOT_FOUND before `started`; got {result.summary()}")
        if result.kinds:
            fail(f"expected no message before the NOT_FOUND status for exec into {what}; got {result.summary()}")


async def test_exec_into_an_exited_container_fails_precondition(
    exited_pod: KitPod,
    watch: PodWatch,
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    settings: Settings,
    hook: ScriptedOutcomes,
    capabilities: capabilities_pb2.Capabilities,
) -> None:
    require(capabilities, "exec.supported")
    await wait_finished(watch, exited_pod)
    result = await _exec(stub, settings, hook, exited_pod.ref, None, command=("sh", "-c", "exit 0"))
    if result.error is None or result.error.code() != grpc.StatusCode.FAILED_PRECONDITION:
        fail(
            f"expected exec into the exited container of {exited_pod} to fail with FAILED_PRECONDITION; "
            f"got {result.summary()}"
        )

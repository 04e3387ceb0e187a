"""The process provider (``provider_process/``, Go): its Go checks, the conformance kit, and real processes behind
GetContainerLogs, kubectl logs, kubectl exec and pod deletion.

A provider is any gRPC service that speaks the protocol; this one is written in Go and runs each pod's containers as
processes on this host. The kit runs against the binary the harness builds, as provider authors run it
(``vk-conformance --target``); every check must pass or be skipped for a capability the provider does not declare.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.provider_fixtures import connected, protocol_pod
from integration.stack_fixtures import Stack, wait_for, wait_node_ready
from virtualkubelet.provider.v1 import (
    container_pb2,
    logs_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    status_pb2,
)
from vk_harness import ControlPlane
from vk_harness.goprovider import SOURCE_DIR, go_env, process_provider_binary, start_process_provider
from vk_harness.stack import ControllerIntervals, start_controller

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: busybox's tcpsvd, for hosts without busybox: the kit's echo pod runs `tcpsvd 0.0.0.0 8080 cat`.
TOOLS = Path(__file__).with_name("process_tools")
NODE = "vk-conformance"

#: Checks of every capability the provider declares: they must run and pass, not be skipped.
DECLARED_CHECKS = (
    "test_logs_honour_tail_lines",
    "test_logs_honour_since",
    "test_logs_honour_limit_bytes",
    "test_logs_follow_streams_while_the_container_runs",
    "test_logs_previous_of_a_container_that_never_restarted_fails_precondition",
    "test_exec_delivers_stdout_and_stderr",
    "test_exec_reports_a_failing_command_s_exit_code",
    "test_attach_to_a_running_container_begins_with_started",
    "test_port_forward_carries_a_tcp_connection_both_ways",
    "test_port_forward_to_a_closed_port_is_unavailable",
)


def _go(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["go", *args], cwd=SOURCE_DIR, env=go_env(), capture_output=True, text=True, timeout=600, check=False
    )


def _pods_path() -> dict[str, str]:
    """The provider's PATH (its pods inherit it): the tcpsvd stand-in first when the host has no tcpsvd."""
    if shutil.which("tcpsvd"):
        return {}
    return {"PATH": f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture
def process_provider(tmp_path: Path) -> Iterator[str]:
    provider = start_process_provider(tmp_path, env=_pods_path())
    try:
        yield provider.address
    finally:
        provider.process.stop()


@pytest.fixture
def process_stack(control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str) -> Iterator[Stack]:
    """The controller, as its node, in front of the process provider."""
    intervals = ControllerIntervals()
    provider = start_process_provider(tmp_path, env=_pods_path())
    try:
        controller = start_controller(
            control_plane, tmp_path, node_name=node_name, provider_address=provider.address, intervals=intervals
        )
        try:
            stack = Stack(control_plane, tmp_path, node_name, namespace, provider, controller, intervals)
            wait_node_ready(stack)
            yield stack
        finally:
            controller.process.stop()
    finally:
        provider.process.stop()


def test_go_code_is_formatted_vetted_and_its_unit_tests_pass() -> None:
    formatted = subprocess.run(
        ["gofmt", "-l", "."], cwd=SOURCE_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert formatted.returncode == 0, formatted.stderr
    assert not formatted.stdout.strip(), f"gofmt -l lists unformatted files:\n{formatted.stdout}"
    vet = _go("vet", "./...")
    assert vet.returncode == 0, f"go vet:\n{vet.stdout}{vet.stderr}"
    tests = _go("test", "-count=1", "./...")
    assert tests.returncode == 0, f"go test:\n{tests.stdout}{tests.stderr}"
    assert re.search(r"^ok\s+vkprocess\b", tests.stdout, re.MULTILINE), tests.stdout


def test_a_warm_build_reuses_the_cached_binary() -> None:
    first = process_provider_binary()
    built_at = first.stat().st_mtime_ns

    again = process_provider_binary()

    assert again == first
    assert again.stat().st_mtime_ns == built_at


def test_the_process_provider_passes_every_conformance_check(process_provider: str) -> None:
    run = subprocess.run(
        [str(BIN / "vk-conformance"), "--target", process_provider, "--node-name", NODE, "--timeout", "30", "-v"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
    )

    assert run.returncode == 0, f"vk-conformance failed against the process provider:\n{run.stdout}\n{run.stderr}"
    assert "provider: process" in run.stdout
    for check in DECLARED_CHECKS:
        assert re.search(rf"::{check} PASSED\b", run.stdout), f"{check} did not run and pass:\n{run.stdout}"
    skipped = re.findall(r"^SKIPPED \[\d+\] .*$", run.stdout, re.MULTILINE)
    assert all("does not declare" in line or "declares none" in line for line in skipped), skipped


async def _wait_phase(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, uid: str, phase: status_pb2.PodPhase.ValueType
) -> status_pb2.PodRecord:
    """The pod's first record in ``phase`` on WatchPods (the provider's only status channel)."""
    call = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
    try:
        async with asyncio.timeout(60):
            async for event in call:
                if event.WhichOneof("event") == "pod" and event.pod.ref.uid == uid and event.pod.status.phase == phase:
                    return event.pod
    finally:
        call.cancel()
    pytest.fail(f"WatchPods ended before pod {uid} reached phase {phase}")


async def _read_logs(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, request: logs_pb2.GetContainerLogsRequest
) -> list[logs_pb2.LogEntry]:
    entries: list[logs_pb2.LogEntry] = []
    async for response in stub.GetContainerLogs(request, timeout=30):
        entries.extend(response.entries)
    return entries


async def test_a_pod_s_real_output_comes_back_through_get_container_logs(process_provider: str) -> None:
    script = 'echo "hello from $GREETING in $PWD"; echo to-stderr >&2; exit 4'
    pod = protocol_pod("logs", namespace="process", node=NODE)
    container = pod.containers[0]
    del container.command[:]
    container.command.extend(["sh", "-c", script])
    container.env.append(container_pb2.EnvVar(name="GREETING", value="a host process"))
    ref = pod_pb2.PodRef(uid=pod.metadata.uid, namespace=pod.metadata.namespace, name=pod.metadata.name)

    async with connected(process_provider, NODE) as stub:
        await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
        record = await _wait_phase(stub, ref.uid, status_pb2.POD_PHASE_FAILED)
        entries = await _read_logs(stub, logs_pb2.GetContainerLogsRequest(pod=ref, container="main"))
        last = await _read_logs(stub, logs_pb2.GetContainerLogsRequest(pod=ref, container="main", tail_lines=1))
        with contextlib.suppress(Exception):
            await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref, grace_period_seconds=0), timeout=30)

    assert record.status.container_statuses[0].state.terminated.exit_code == 4
    lines = [(entry.stream, entry.content.decode()) for entry in entries]
    assert len(lines) == 2, lines
    assert (logs_pb2.LOG_STREAM_STDERR, "to-stderr") in lines
    (stdout_line,) = [content for stream, content in lines if stream == logs_pb2.LOG_STREAM_STDOUT]
    assert stdout_line.startswith("hello from a host process in /"), stdout_line
    assert pod.metadata.uid in stdout_line  # the working directory is the pod's own
    assert all(entry.HasField("time") for entry in entries)
    assert [entry.content for entry in last] == [entries[-1].content]


def test_kubectl_logs_and_exec_reach_the_pod_s_process_and_delete_ends_it(process_stack: Stack) -> None:
    stack = process_stack
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "host-process"},
        "spec": {
            "nodeName": stack.node,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "main",
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", 'echo "started as $GREETING"; sleep 3600'],
                    "env": [{"name": "GREETING", "value": "a host process"}],
                }
            ],
        },
    }
    stack.plane.rest.create(f"/api/v1/namespaces/{stack.namespace}/pods", body)
    pod = stack.wait_ready_pod("host-process", timeout=60)
    container_id = pod["status"]["containerStatuses"][0]["containerID"]
    assert container_id.startswith("process://"), container_id
    pid = int(container_id.removeprefix("process://"))
    os.kill(pid, 0)  # a real process on this host

    logs = stack.plane.kubectl("logs", "-n", stack.namespace, "host-process")
    executed = stack.plane.kubectl(
        "exec", "-n", stack.namespace, "host-process", "--", "sh", "-c", "echo $GREETING; exit 3", check=False
    )
    stack.plane.kubectl("delete", "pod", "-n", stack.namespace, "host-process", "--wait=true", timeout=60)

    assert logs.stdout == "started as a host process\n"
    assert executed.stdout == "a host process\n"
    assert executed.returncode == 3, executed.stderr

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(f"process {pid} to be gone after the pod's deletion", gone, timeout=10)

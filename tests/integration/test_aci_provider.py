"""vk-provider-aci as a process against the ARM stand-in (``arm_standin.py``): the conformance kit, adoption after a
restart, status from paged listings with 500 pods, ARM errors, throttling, spec-valid request bodies, and exec
bridged to the stand-in's exec WebSocket (output arrives, stdin ends with Ctrl-D, the exit status is UNKNOWN)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from session_calls import converse

from integration.arm_standin import RunningStandIn, arm_standin
from integration.provider_fixtures import connected as shared_connected
from integration.provider_fixtures import protocol_pod
from integration.provider_fixtures import provider_process as shared_provider_process
from virtualkubelet.provider.v1 import (
    container_pb2,
    handshake_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    status_pb2,
    streaming_pb2,
    volume_pb2,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE = "aci-test-node"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandIn]:
    with arm_standin(tmp_path_factory.mktemp("arm")) as running:
        yield running


def control(standin: RunningStandIn, path: str, body: object | None = None) -> dict[str, int]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback
        standin.control + path, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        return {str(k): v for k, v in json.loads(answer.read()).items()}


def provider_process(standin: RunningStandIn, log_path: Path) -> contextlib.AbstractContextManager[str]:
    """vk-provider-aci on a free port; yields its address once it listens."""
    return shared_provider_process("vk-provider-aci", [*standin.provider_args()], log_path, env=standin.environment())


def connected(address: str) -> contextlib.AbstractAsyncContextManager[provider_pb2_grpc.ProviderServiceAsyncStub]:
    return shared_connected(address, NODE)


def test_pod(name: str, **fields: object) -> pod_pb2.Pod:
    return protocol_pod(name, namespace="aci-test", node=NODE, **fields)


test_pod.__test__ = False  # type: ignore[attr-defined]  # a builder, not a test


async def snapshot(stub: provider_pb2_grpc.ProviderServiceAsyncStub) -> dict[str, status_pb2.PodRecord]:
    records: dict[str, status_pb2.PodRecord] = {}
    call = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
    async for event in call:
        if event.HasField("synced"):
            break
        records[event.pod.ref.uid] = event.pod
    call.cancel()
    return records


async def wait_record(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, uid: str, phase: int, within: float = 15
) -> status_pb2.PodRecord:
    deadline = time.monotonic() + within
    record = None
    while time.monotonic() < deadline:
        try:
            record = (await stub.GetPod(pod_requests_pb2.GetPodRequest(pod=pod_pb2.PodRef(uid=uid)), timeout=10)).pod
        except grpc.aio.AioRpcError:
            record = None
        if record is not None and record.status.phase == phase:
            return record
        await asyncio.sleep(0.1)
    pytest.fail(f"pod {uid} did not reach phase {phase}; last record: {record}")


def test_the_conformance_kit_passes_on_the_stand_in(standin: RunningStandIn, tmp_path: Path) -> None:
    with provider_process(standin, tmp_path / "provider.log") as address:
        run = subprocess.run(
            [
                str(BIN / "vk-conformance"),
                "--target",
                address,
                "--timeout",
                "20",
                "--hook",
                "tests.integration.arm_standin:ConformanceHook",
                "-v",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
            env={**os.environ, **standin.environment()},
            check=False,
        )
    assert run.returncode == 0, f"vk-conformance failed against vk-provider-aci:\n{run.stdout}\n{run.stderr}"
    assert "provider: aci" in run.stdout
    for check in (
        "test_a_pod_that_exits_3_ends_failed_with_exit_code_3",
        "test_logs_honour_tail_lines",
        # exec is declared without exit_status and separate_stderr: the kit expects UNKNOWN exits and one stream
        "test_exec_reports_a_failing_command_s_exit_code",
        "test_exec_delivers_stdout_and_stderr",
        "test_exec_into_an_unknown_pod_or_container_is_not_found",
        "test_exec_into_an_exited_container_fails_precondition",
    ):
        assert re.search(rf"::{check} PASSED\b", run.stdout), run.stdout
    counts = control(standin, "/counts")
    assert counts.get("token", 0) >= 1
    # azure-identity's async credential goes straight to the token endpoint.
    assert counts.get("instance-discovery", 0) == 0
    assert counts.get("openid-configuration", 0) == 0


async def test_a_restarted_provider_adopts_its_groups_instead_of_creating_them_again(
    standin: RunningStandIn, tmp_path: Path
) -> None:
    pods = [test_pod(f"adopt-{index}") for index in range(3)]
    before = control(standin, "/counts").get("put", 0)
    with provider_process(standin, tmp_path / "first.log") as address:
        async with connected(address) as stub:
            for pod in pods:
                await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
            for pod in pods:
                await wait_record(stub, pod.metadata.uid, status_pb2.POD_PHASE_RUNNING)
    assert control(standin, "/counts").get("put", 0) == before + 3

    with provider_process(standin, tmp_path / "second.log") as address:
        async with connected(address) as stub:
            records = await snapshot(stub)
            for pod in pods:
                record = records[pod.metadata.uid]
                assert (record.ref.namespace, record.ref.name, record.revision) == ("aci-test", pod.metadata.name, "r1")
                assert record.status.phase == status_pb2.POD_PHASE_RUNNING
                again = await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
                assert again.already_existed
            for pod in pods:
                ref = pod_pb2.PodRef(uid=pod.metadata.uid, namespace="aci-test", name=pod.metadata.name)
                gone = await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref, grace_period_seconds=0))
                assert gone.state == pod_requests_pb2.DELETION_STATE_GONE
    assert control(standin, "/counts").get("put", 0) == before + 3
    assert "adopted 3 container group(s)" in (tmp_path / "second.log").read_text()


async def test_500_pods_get_their_status_from_paged_listings_not_per_pod_gets(
    standin: RunningStandIn, tmp_path: Path
) -> None:
    pods = [test_pod(f"many-{index}") for index in range(500)]
    with provider_process(standin, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            limit = asyncio.Semaphore(32)

            async def create(pod: pod_pb2.Pod) -> None:
                async with limit:
                    await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=60)

            await asyncio.gather(*(create(pod) for pod in pods))
            await asyncio.sleep(2.5)  # the creations' long-running operations end (one GET each, by the SDK)
            before = control(standin, "/counts")
            window = 3.0
            await asyncio.sleep(window)
            after = control(standin, "/counts")
            records = await snapshot(stub)
            running = [r for r in records.values() if r.status.phase == status_pb2.POD_PHASE_RUNNING]
            for pod in pods:
                ref = pod_pb2.PodRef(uid=pod.metadata.uid, namespace="aci-test", name=pod.metadata.name)
                await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref, grace_period_seconds=0), timeout=30)
    lists = after.get("list", 0) - before.get("list", 0)
    gets = after.get("get", 0) - before.get("get", 0)
    assert len(running) >= 500
    assert gets == 0, gets
    # 500 groups at 100 per page: a listing is 5 pages; --poll-interval 0.3 allows at most window/0.3 + 1 listings.
    assert 5 <= lists <= 5 * (window / 0.3 + 1), lists
    assert lists % 5 == 0 or lists > 5


async def test_arm_errors_refuse_the_pod_or_fail_it_with_arm_s_code(standin: RunningStandIn, tmp_path: Path) -> None:
    invalid = test_pod("invalid-image")
    invalid.containers[0].image = "invalid/image:1"
    failing = test_pod("fails-provisioning")
    control(
        standin,
        "/script",
        {
            "uid": failing.metadata.uid,
            "stdout_lines": [],
            "exit_code": None,
            "fail": {"code": "InaccessibleImage", "message": "The image is not accessible."},
        },
    )
    with provider_process(standin, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=invalid), timeout=30)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "InvalidImageName" in (refused.value.details() or "")
            await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=failing), timeout=30)
            record = await wait_record(stub, failing.metadata.uid, status_pb2.POD_PHASE_FAILED)
            for _ in range(50):  # the listing may show the failed group before the operation's error arrives
                if record.status.reason != "ProvisioningFailed":
                    break
                await asyncio.sleep(0.1)
                record = await wait_record(stub, failing.metadata.uid, status_pb2.POD_PHASE_FAILED)
            assert record.status.reason == "InaccessibleImage"
            assert "The image is not accessible." in record.status.message


async def test_throttling_and_server_errors_are_retried_honouring_retry_after(
    standin: RunningStandIn, tmp_path: Path
) -> None:
    pod = test_pod("throttled")
    control(standin, "/fault", {"method": "PUT", "status": 429, "times": 1, "retry_after": 1})
    control(standin, "/fault", {"method": "PUT", "status": 500, "times": 1})
    before = control(standin, "/counts")
    with provider_process(standin, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            started = time.monotonic()
            await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
            took = time.monotonic() - started
            await wait_record(stub, pod.metadata.uid, status_pb2.POD_PHASE_RUNNING)
    after = control(standin, "/counts")
    assert after.get("fault-429", 0) - before.get("fault-429", 0) == 1
    assert after.get("fault-500", 0) - before.get("fault-500", 0) == 1
    assert took >= 1.0, took  # Retry-After: 1 was honoured


async def test_a_rich_pod_is_sent_as_a_spec_valid_body_with_secrets_only_in_secure_fields(
    standin: RunningStandIn, tmp_path: Path
) -> None:
    pod = test_pod(
        "rich",
        volumes=[
            volume_pb2.Volume(name="scratch", empty_dir=volume_pb2.EmptyDirVolume()),
            volume_pb2.Volume(
                name="kube-api-access",
                files=volume_pb2.FilesVolume(
                    sensitive=True,
                    files=[
                        volume_pb2.VolumeFile(path="token", content=b"the-token", sensitive=True),
                        volume_pb2.VolumeFile(path="namespace", content=b"aci-test"),
                    ],
                ),
            ),
            volume_pb2.Volume(
                name="share",
                azure_file=volume_pb2.AzureFileVolume(share_name="s", account_name="acct", account_key="the-key"),
            ),
        ],
        image_pull_credentials=[pod_pb2.ImagePullCredential(server="r.azurecr.io", username="u", password="pw")],
        init_containers=[container_pb2.Container(name="init", image="busybox:1.36", command=["true"])],
    )
    main = pod.containers[0]
    main.env.extend(
        [container_pb2.EnvVar(name="PLAIN", value="v"), container_pb2.EnvVar(name="SECRET", value="s3", sensitive=True)]
    )
    main.ports.append(container_pb2.ContainerPort(container_port=8080, protocol=container_pb2.PORT_PROTOCOL_TCP))
    main.volume_mounts.extend(
        [
            container_pb2.VolumeMount(name="scratch", mount_path="/scratch"),
            container_pb2.VolumeMount(name="kube-api-access", mount_path="/var/run/secrets/sa", read_only=True),
            container_pb2.VolumeMount(name="share", mount_path="/share"),
        ]
    )
    main.readiness_probe.CopyFrom(
        container_pb2.Probe(http_get=container_pb2.HTTPGetAction(path="/ready", port=8080), period_seconds=5)
    )
    main.liveness_probe.CopyFrom(container_pb2.Probe(exec=container_pb2.ExecAction(command=["true"])))
    before = len(standin.state.violations)
    with provider_process(standin, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
            record = await wait_record(stub, pod.metadata.uid, status_pb2.POD_PHASE_RUNNING)
            assert record.status.pod_ips
            assert [s.state.WhichOneof("state") for s in record.status.init_container_statuses] == ["terminated"]
    assert len(standin.state.violations) == before, standin.state.violations
    stored = next(g.body for g in standin.state.groups.values() if g.body["tags"]["vk.pod-uid"] == pod.metadata.uid)
    env = {v["name"]: v for v in stored["properties"]["containers"][0]["properties"]["environmentVariables"]}
    assert env["SECRET"] == {"name": "SECRET", "secureValue": "s3"}
    assert env["PLAIN"] == {"name": "PLAIN", "value": "v"}
    assert "the-key" not in json.dumps(stored["tags"])


async def _exec(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub,
    start: streaming_pb2.ExecStart,
    stdin: tuple[bytes, ...] = (),
) -> list[streaming_pb2.ExecResponse]:
    """One Exec session: the start, the stdin chunks and their end if stdin is wanted; every response to the end."""
    chunks = [streaming_pb2.ExecRequest(input=streaming_pb2.StreamInput(stdin=chunk)) for chunk in stdin]
    if start.stdin:  # without stdin there is nothing to close, and a write could race with the session's end
        close = streaming_pb2.StreamInput(close_stdin=streaming_pb2.CloseStdin())
        chunks.append(streaming_pb2.ExecRequest(input=close))
    return await converse(stub.Exec, streaming_pb2.ExecRequest(start=start), chunks)


def _output(responses: list[streaming_pb2.ExecResponse]) -> tuple[bytes, bytes]:
    stdout = b"".join(r.output.stdout for r in responses if r.HasField("output"))
    stderr = b"".join(r.output.stderr for r in responses if r.HasField("output"))
    return stdout, stderr


def _unknown_exit(responses: list[streaming_pb2.ExecResponse]) -> streaming_pb2.ExitStatus:
    kinds = [r.WhichOneof("payload") for r in responses]
    assert kinds[0] == "started", kinds
    assert kinds[-1] == "exit", kinds
    assert kinds.count("exit") == 1, kinds
    status = responses[-1].exit
    assert status.state == streaming_pb2.EXIT_STATUS_STATE_UNKNOWN, status
    assert status.reason == "ExitCodeNotReported", status
    assert "does not report the exit codes" in status.message, status
    return status


async def test_exec_is_bridged_to_the_exec_websocket_and_ends_with_an_unknown_exit_status(
    standin: RunningStandIn, tmp_path: Path
) -> None:
    pod = test_pod("exec")
    with provider_process(standin, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            handshake = await stub.Handshake(
                handshake_pb2.HandshakeRequest(
                    protocol_version=handshake_pb2.ProtocolVersion(major=1, minor=0), node_name=NODE
                ),
                timeout=30,
            )
            declared = handshake.capabilities.exec
            assert (declared.supported, declared.tty, declared.stdin) == (True, True, True)
            assert (declared.separate_stderr, declared.exit_status, declared.resize) == (False, False, False)

            await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
            await wait_record(stub, pod.metadata.uid, status_pb2.POD_PHASE_RUNNING)
            ref = pod_pb2.PodRef(uid=pod.metadata.uid, namespace="aci-test", name="exec")
            sessions = len(standin.state.exec_log)

            # output arrives; no terminal size given: ACI still gets one (80x24)
            echo = await _exec(
                stub, streaming_pb2.ExecStart(pod=ref, container="main", command=["echo", "hello", "aci"], stdout=True)
            )
            assert _output(echo) == (b"hello aci\n", b"")
            _unknown_exit(echo)
            session = standin.state.exec_log[sessions]
            assert (session.container, session.command) == ("main", "echo hello aci")
            assert session.terminal_size == {"rows": 24, "cols": 80}

            # stdin goes over as text, its end as Ctrl-D; the initial terminal size is sent
            cat = await _exec(
                stub,
                streaming_pb2.ExecStart(
                    pod=ref,
                    container="main",
                    command=["cat"],
                    tty=True,
                    stdin=True,
                    stdout=True,
                    initial_terminal_size=streaming_pb2.TerminalSize(width=100, height=30),
                ),
                stdin=(b"line one\n", "line twö\n".encode()[:-3], "line twö\n".encode()[-3:]),
            )
            assert _output(cat) == ("line one\nline twö\n".encode(), b"")
            _unknown_exit(cat)
            assert standin.state.exec_log[sessions + 1].terminal_size == {"rows": 30, "cols": 100}

            # the command's exit code never arrives; stderr is mixed into stdout
            exits = await _exec(
                stub,
                streaming_pb2.ExecStart(
                    pod=ref, container="main", command=["sh", "-c", "exit 3"], stdout=True, stderr=True
                ),
            )
            assert _output(exits) == (b"", b"")
            _unknown_exit(exits)
            assert standin.state.exec_log[sessions + 2].command == "sh -c 'exit 3'"
            unknown = await _exec(
                stub,
                streaming_pb2.ExecStart(pod=ref, container="main", command=["no-such-tool"], stdout=True, stderr=True),
            )
            assert _output(unknown) == (b"sh: no-such-tool: not found\n", b"")
            _unknown_exit(unknown)

            # refused before `started`, without asking ARM
            before = control(standin, "/counts").get("exec", 0)
            for target, container in (
                (ref, "sidecar"),
                (pod_pb2.PodRef(uid=str(uuid.uuid4()), namespace="aci-test", name="never"), "main"),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await _exec(stub, streaming_pb2.ExecStart(pod=target, container=container, command=["true"]))
                assert refused.value.code() == grpc.StatusCode.NOT_FOUND
            assert control(standin, "/counts").get("exec", 0) == before
    counts = control(standin, "/counts")
    assert counts.get("exec-wrong-password", 0) == 0
    assert counts.get("exec-unknown-socket", 0) == 0

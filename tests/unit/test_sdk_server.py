"""The SDK's gRPC server over real gRPC: handshake, error contract, hub-backed pod reads and watches, sessions,
health, reflection, message size and shutdown. The provider here is a small in-test one, so every behaviour seen
is the SDK's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc  # type: ignore[import-untyped]
from session_calls import converse

from virtualkubelet.provider.v1 import (
    capabilities_pb2,
    handshake_pb2,
    logs_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    stats_pb2,
    status_pb2,
    streaming_pb2,
    volume_pb2,
)
from vk_harness.pki import CertificateAuthority
from vk_provider_sdk import ExecSession, Provider, ProviderInfo, ProviderServer, TLSFiles, errors, exit_status, serve
from vk_provider_sdk.server import INTERNAL_MESSAGE, SERVICE_NAME

T = TypeVar("T")

if TYPE_CHECKING:
    Stub = provider_pb2_grpc.ProviderServiceAsyncStub


class ToyProvider(Provider):
    """Creates pods as PENDING records; fails on demand by pod name; exec echoes."""

    def __init__(self) -> None:
        super().__init__()
        self.creates: list[str] = []
        self.healthy = True

    def info(self) -> ProviderInfo:
        caps = capabilities_pb2.Capabilities(exec=capabilities_pb2.ContainerStreamCapabilities(supported=True))
        return ProviderInfo(name="toy", version="9.9.9", capabilities=caps)

    async def node(self) -> node_pb2.Node:
        return node_pb2.Node(capacity={"pods": "10"}, system_info=node_pb2.NodeSystemInfo(operating_system="linux"))

    async def ping(self) -> node_pb2.PingResponse:
        if self.healthy:
            return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_HEALTHY)
        return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_UNHEALTHY, reason="BackendDown")

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        name = pod.metadata.name
        if name == "invalid":
            raise errors.InvalidPod("spec.volumes[0].hostPath: not here", reason="HostPathUnsupported")
        if name == "throttled":
            raise errors.ResourceExhausted("slow down", retry_after=2.5)
        if name == "buggy":
            raise RuntimeError("password=hunter2")
        self.creates.append(pod.metadata.uid)
        ref = pod_pb2.PodRef(uid=pod.metadata.uid, namespace=pod.metadata.namespace, name=name)
        record = status_pb2.PodRecord(ref=ref, status=status_pb2.PodStatus(phase=status_pb2.POD_PHASE_PENDING))
        self.pods.publish(record)
        return pod_requests_pb2.CreatePodResponse(status=record.status)

    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        raise errors.Unimplemented("no updates")

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        self.pods.delete(request.pod, requested=True)
        return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE)

    async def exec(self, session: ExecSession) -> streaming_pb2.ExitStatus:
        await session.write_stdout(b"out:" + " ".join(session.command).encode())
        await session.write_stderr(b"err")
        async for chunk in session.stdin():
            await session.write_stdout(chunk.upper())
        return exit_status(7)


@pytest.fixture
async def toy() -> ToyProvider:
    return ToyProvider()


@pytest.fixture
async def server(toy: ToyProvider) -> AsyncIterator[ProviderServer]:
    async with serve(toy, health_interval=0.05) as running:
        yield running


@pytest.fixture
async def channel(server: ProviderServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(server.address) as opened:
        yield opened


@pytest.fixture
def stub(channel: grpc.aio.Channel) -> Stub:
    return provider_pb2_grpc.ProviderServiceStub(channel)


def handshake_request(major: int = 1, minor: int = 0, node: str = "vk-node") -> handshake_pb2.HandshakeRequest:
    version = handshake_pb2.ProtocolVersion(major=major, minor=minor)
    return handshake_pb2.HandshakeRequest(protocol_version=version, node_name=node, controller_version="test")


def create_request(name: str, uid: str | None = None) -> pod_requests_pb2.CreatePodRequest:
    meta = pod_pb2.PodMetadata(uid=uid or f"uid-{name}", namespace="ns", name=name)
    return pod_requests_pb2.CreatePodRequest(pod=pod_pb2.Pod(metadata=meta))


async def read(call: grpc.aio.UnaryStreamCall[Any, T]) -> T:
    """The next message of a server stream, which must not have ended."""
    message = await asyncio.wait_for(call.read(), 2)
    assert message is not grpc.aio.EOF, "the stream ended"
    return cast(T, message)


async def rpc_error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_handshake_answers_protocol_1_0_with_identity_capabilities_and_node(stub: Stub) -> None:
    first = await stub.Handshake(handshake_request(minor=3))
    second = await stub.Handshake(handshake_request())

    assert (first.protocol_version.major, first.protocol_version.minor) == (1, 0)
    assert (first.provider_name, first.provider_version) == ("toy", "9.9.9")
    assert first.capabilities.exec.supported
    assert first.node.capacity["pods"] == "10"
    assert first.instance_id
    assert second.instance_id == first.instance_id, "the instance id changes only when the process restarts"


async def test_a_controller_of_another_major_version_is_refused_with_failed_precondition(stub: Stub) -> None:
    error = await rpc_error(stub.Handshake(handshake_request(major=2, minor=1)))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "controller speaks 2.1, this provider speaks 1.0" in (error.details() or "")
    assert errors.from_rpc_error(error).reason == "ProtocolVersionMismatch"


async def test_a_second_node_name_is_refused(stub: Stub) -> None:
    await stub.Handshake(handshake_request(node="node-a"))

    error = await rpc_error(stub.Handshake(handshake_request(node="node-b")))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert errors.from_rpc_error(error).reason == "NodeNameMismatch"


async def test_invalid_pod_becomes_invalid_argument_with_error_info(stub: Stub) -> None:
    error = await rpc_error(stub.CreatePod(create_request("invalid")))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    parsed = errors.from_rpc_error(error)
    assert isinstance(parsed, errors.InvalidPod)
    assert parsed.message == "spec.volumes[0].hostPath: not here"
    assert parsed.reason == "HostPathUnsupported"
    assert parsed.domain == "toy", "the domain defaults to the provider name"


async def test_retry_after_travels_as_retry_info(stub: Stub) -> None:
    error = await rpc_error(stub.CreatePod(create_request("throttled")))

    parsed = errors.from_rpc_error(error)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert parsed.retry_after == 2.5


async def test_an_unexpected_exception_is_internal_with_a_generic_message(
    stub: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    error = await rpc_error(stub.CreatePod(create_request("buggy")))

    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == INTERNAL_MESSAGE
    assert "hunter2" not in (error.details() or ""), "exception texts may hold secrets: never on the wire"
    assert any(record.exc_info for record in caplog.records), "the traceback goes to the log"


async def test_a_repeated_create_is_answered_from_the_hub_without_creating_again(stub: Stub, toy: ToyProvider) -> None:
    first = await stub.CreatePod(create_request("web"))
    second = await stub.CreatePod(create_request("web"))

    assert not first.already_existed
    assert second.already_existed
    assert second.status.phase == status_pb2.POD_PHASE_PENDING
    assert toy.creates == ["uid-web"]


async def test_create_without_uid_is_invalid(stub: Stub) -> None:
    error = await rpc_error(stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod_pb2.Pod())))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_get_list_and_status_read_the_hub(stub: Stub) -> None:
    await stub.CreatePod(create_request("web"))
    ref = pod_pb2.PodRef(uid="uid-web")

    got = await stub.GetPod(pod_requests_pb2.GetPodRequest(pod=ref))
    listed = await stub.ListPods(pod_requests_pb2.ListPodsRequest())
    status = await stub.GetPodStatus(pod_requests_pb2.GetPodStatusRequest(pod=ref))
    missing = await rpc_error(stub.GetPod(pod_requests_pb2.GetPodRequest(pod=pod_pb2.PodRef(uid="nope"))))

    assert got.pod.ref.name == "web"
    assert [record.ref.uid for record in listed.pods] == ["uid-web"]
    assert status.status.phase == status_pb2.POD_PHASE_PENDING
    assert missing.code() == grpc.StatusCode.NOT_FOUND


async def test_two_watchers_each_get_the_snapshot_synced_and_every_change(stub: Stub) -> None:
    await stub.CreatePod(create_request("old"))
    first = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
    second = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())

    for watch in (first, second):
        snapshot = await read(watch)
        assert snapshot.pod.ref.name == "old"
        assert (await read(watch)).HasField("synced")

    await stub.CreatePod(create_request("new"))
    await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=pod_pb2.PodRef(uid="uid-old")))

    for watch in (first, second):
        assert (await read(watch)).pod.ref.name == "new"
        deleted = (await read(watch)).deleted
        assert deleted.ref.uid == "uid-old"
        assert deleted.requested
    first.cancel()
    second.cancel()


async def test_watch_node_sends_the_node_now_and_after_each_change(stub: Stub, toy: ToyProvider) -> None:
    watch = stub.WatchNode(node_pb2.WatchNodeRequest())
    assert (await read(watch)).node.capacity["pods"] == "10"

    toy.node_changed()

    assert (await read(watch)).node.capacity["pods"] == "10"
    watch.cancel()


async def test_undeclared_capabilities_answer_unimplemented(stub: Stub) -> None:
    ref = pod_pb2.PodRef(uid="uid-web")
    logs_call = stub.GetContainerLogs(logs_pb2.GetContainerLogsRequest(pod=ref, container="c"))
    attach = stub.Attach(iter([streaming_pb2.AttachRequest(start=streaming_pb2.AttachStart(pod=ref, container="c"))]))
    forward = stub.PortForward(
        iter([streaming_pb2.PortForwardRequest(start=streaming_pb2.PortForwardStart(pod=ref, port=80))])
    )

    for call in (logs_call, attach, forward):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            async for _ in call:
                pass
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    stats = await rpc_error(stub.GetStatsSummary(stats_pb2.GetStatsSummaryRequest()))
    assert stats.code() == grpc.StatusCode.UNIMPLEMENTED


async def exec_messages(stub: Stub, start: streaming_pb2.ExecStart, stdin: list[bytes]) -> list[str]:
    requests = [streaming_pb2.ExecRequest(input=streaming_pb2.StreamInput(stdin=chunk)) for chunk in stdin]
    requests.append(streaming_pb2.ExecRequest(input=streaming_pb2.StreamInput(close_stdin=streaming_pb2.CloseStdin())))
    seen = []
    for message in await converse(stub.Exec, streaming_pb2.ExecRequest(start=start), requests):
        kind = message.WhichOneof("payload")
        if kind == "output":
            stream = message.output.WhichOneof("output") or ""
            seen.append(f"{stream}:{getattr(message.output, stream).decode()}")
        elif kind == "exit":
            seen.append(f"exit:{message.exit.code}")
        else:
            seen.append(kind or "")
    return seen


async def test_exec_sessions_send_started_output_and_exit_in_order(stub: Stub) -> None:
    start = streaming_pb2.ExecStart(command=["echo", "hi"], stdin=True, stdout=True, stderr=True)

    seen = await exec_messages(stub, start, [b"abc", b"def"])

    assert seen == ["started", "stdout:out:echo hi", "stderr:err", "stdout:ABC", "stdout:DEF", "exit:7"]


async def test_with_a_tty_stderr_goes_to_stdout_and_unrequested_stdin_is_empty(stub: Stub) -> None:
    start = streaming_pb2.ExecStart(command=["x"], tty=True, stdin=False, stdout=True, stderr=True)

    seen = await exec_messages(stub, start, [b"ignored"])

    assert seen == ["started", "stdout:out:x", "stdout:err", "exit:7"]


async def test_a_session_must_begin_with_start(stub: Stub) -> None:
    call = stub.Exec(iter([streaming_pb2.ExecRequest(input=streaming_pb2.StreamInput(stdin=b"x"))]))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in call:
            pass

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_messages_up_to_64_mib_are_accepted(stub: Stub) -> None:
    request = create_request("big")
    files = volume_pb2.FilesVolume(files=[volume_pb2.VolumeFile(path="blob", content=b"x" * (20 * 1024 * 1024))])
    request.pod.volumes.append(volume_pb2.Volume(name="blob", files=files))

    response = await stub.CreatePod(request)

    assert response.status.phase == status_pb2.POD_PHASE_PENDING


async def test_health_is_serving_and_follows_ping(channel: grpc.aio.Channel, toy: ToyProvider) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE_NAME):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING

    toy.healthy = False
    for _ in range(100):
        answer = await health.Check(health_pb2.HealthCheckRequest())
        if answer.status == health_pb2.HealthCheckResponse.NOT_SERVING:
            break
        await asyncio.sleep(0.02)
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_reflection_lists_the_provider_service(channel: grpc.aio.Channel) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")

    async for answer in reflection.ServerReflectionInfo(iter([request])):
        names = {service.name for service in answer.list_services_response.service}
        break

    assert SERVICE_NAME in names
    assert "grpc.health.v1.Health" in names


async def test_stopping_ends_watch_streams_and_turns_health_not_serving(toy: ToyProvider) -> None:
    server = ProviderServer(toy, listen="127.0.0.1:0", grace_period=5)
    address = await server.start()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        watch = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
        assert (await read(watch)).HasField("synced")

        stopping = asyncio.create_task(server.stop())
        end = await asyncio.wait_for(watch.read(), 2)
        await asyncio.wait_for(stopping, 2)

    assert end is grpc.aio.EOF
    assert await watch.code() == grpc.StatusCode.OK, "the watch ends cleanly, not after the grace period"


async def test_a_unix_socket_address_is_served(toy: ToyProvider, tmp_path: Path) -> None:
    socket = tmp_path / "provider.sock"
    async with serve(toy, listen=f"unix:{socket}") as running:
        assert running.address == f"unix:{socket}"
        async with grpc.aio.insecure_channel(running.address) as channel:
            answer = await provider_pb2_grpc.ProviderServiceStub(channel).Ping(node_pb2.PingRequest())

    assert answer.health == node_pb2.NODE_HEALTH_HEALTHY


async def test_mtls_accepts_clients_with_a_certificate_from_the_client_ca_only(
    toy: ToyProvider, tmp_path: Path
) -> None:
    ca = CertificateAuthority(tmp_path)
    served = ca.issue("provider", common_name="provider", ip_addresses=("127.0.0.1",), server=True)
    client = ca.issue("controller", common_name="controller", client=True)
    tls = TLSFiles(cert=served.cert_path, key=served.key_path, client_ca=ca.cert_path)

    async with serve(toy, tls=tls) as running:
        trusted = grpc.ssl_channel_credentials(ca.cert_pem, client.key_pem, client.cert_pem)
        async with grpc.aio.secure_channel(running.address, trusted) as channel:
            answer = await provider_pb2_grpc.ProviderServiceStub(channel).Ping(node_pb2.PingRequest(), timeout=5)
        anonymous = grpc.ssl_channel_credentials(ca.cert_pem)
        async with grpc.aio.secure_channel(running.address, anonymous) as channel:
            refused = await rpc_error(
                provider_pb2_grpc.ProviderServiceStub(channel).Ping(node_pb2.PingRequest(), timeout=5)
            )

    assert answer.health == node_pb2.NODE_HEALTH_HEALTHY
    assert refused.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_port_in_use_is_an_error_not_a_shared_port(server: ProviderServer) -> None:
    second = ProviderServer(ToyProvider(), listen=server.address)

    with pytest.raises(OSError, match="cannot listen"):
        await second.start()

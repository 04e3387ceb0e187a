"""Secret values are cut out of failure messages at both ends of the protocol: the SDK's server (what it answers
and logs) and the controller's client (for providers that answer with them anyway). Over real gRPC."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator

import grpc
import pytest

from virtualkubelet.provider.v1 import (
    capabilities_pb2,
    container_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    status_pb2,
    volume_pb2,
)
from vk_controller.provider.client import ProviderClient
from vk_provider_sdk import Provider, ProviderInfo, errors, serve
from vk_provider_sdk.redaction import REDACTED, redact, sensitive_values

SECRET = "s3cr3t-value-0123456789"
PASSWORD = "registry-password-42"


def secret_pod(name: str) -> pod_pb2.Pod:
    env = [
        container_pb2.EnvVar(name="TOKEN", value=SECRET, sensitive=True),
        container_pb2.EnvVar(name="PLAIN", value="not-a-secret"),
    ]
    files = volume_pb2.FilesVolume(
        files=[volume_pb2.VolumeFile(path="key", content=b"file-secret-abcdef\n", sensitive=True)], sensitive=True
    )
    return pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid=f"uid-{name}", namespace="ns", name=name),
        containers=[container_pb2.Container(name="main", image="busybox", env=env)],
        volumes=[volume_pb2.Volume(name="v", files=files)],
        image_pull_credentials=[pod_pb2.ImagePullCredential(server="r", username="u", password=PASSWORD)],
    )


def test_sensitive_values_are_the_secrets_only() -> None:
    values = sensitive_values(secret_pod("p"))
    assert {SECRET, PASSWORD, "file-secret-abcdef", base64.b64encode(SECRET.encode()).decode()} <= values
    assert "not-a-secret" not in values
    assert all(len(value) >= 4 for value in values)


def test_redact_cuts_every_occurrence_longest_first() -> None:
    text = f"bad {SECRET}; again {SECRET}-x; short ab"
    assert redact(text, {SECRET, SECRET[:6], "ab"}) == f"bad {REDACTED}; again {REDACTED}-x; short {REDACTED}"
    assert redact("nothing here", {SECRET}) == "nothing here"


class EchoingProvider(Provider):
    """A backend that quotes its input in its errors, as real ones do."""

    def info(self) -> ProviderInfo:
        return ProviderInfo(name="echo", version="1", capabilities=capabilities_pb2.Capabilities())

    async def node(self) -> node_pb2.Node:
        return node_pb2.Node()

    async def ping(self) -> node_pb2.PingResponse:
        return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_HEALTHY)

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        env = pod.containers[0].env[0]
        if pod.metadata.name == "crash":
            raise RuntimeError(f"backend choked on {env.name}={env.value}")
        raise errors.InvalidPod(f"invalid value {env.value!r} for {env.name}; password {PASSWORD} refused")

    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        raise errors.InvalidPod(f"cannot update to {pod.containers[0].env[0].value}")

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        return pod_requests_pb2.DeletePodResponse()


@pytest.mark.parametrize("name", ["refused", "crash"])
async def test_the_sdk_server_answers_and_logs_no_secret(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve(EchoingProvider()) as running, grpc.aio.insecure_channel(running.address) as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=secret_pod(name)))
        with pytest.raises(grpc.RpcError) as update:
            await stub.UpdatePod(pod_requests_pb2.UpdatePodRequest(pod=secret_pod(name)))
    answered = f"{raised.value.details()} {update.value.details()}"
    assert SECRET not in answered
    assert PASSWORD not in answered
    assert SECRET not in caplog.text
    assert PASSWORD not in caplog.text
    if name == "refused":
        assert f"invalid value '{REDACTED}' for TOKEN; password {REDACTED} refused" in answered
    else:
        assert "backend choked on TOKEN=[redacted]" in caplog.text  # the traceback is still logged


class RawEchoServicer(provider_pb2_grpc.ProviderServiceServicer):
    """A provider in another language, without the SDK: its error details quote the secret."""

    async def CreatePod(  # noqa: N802 - gRPC method name
        self, request: pod_requests_pb2.CreatePodRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> pod_requests_pb2.CreatePodResponse:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"env TOKEN={request.pod.containers[0].env[0].value}")
        raise AssertionError("abort returns never")


@pytest.fixture
async def raw_provider() -> AsyncIterator[str]:
    server = grpc.aio.server()
    provider_pb2_grpc.add_ProviderServiceServicer_to_server(RawEchoServicer(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def test_the_controller_cuts_secrets_out_of_a_providers_answer(raw_provider: str) -> None:
    client = ProviderClient(raw_provider)
    try:
        with pytest.raises(errors.ProviderError) as raised:
            await client.create_pod(secret_pod("p"))
    finally:
        await client.close()
    assert str(raised.value) == f"env TOKEN={REDACTED}"
    assert raised.value.__cause__ is None  # the gRPC error underneath, which quotes it, is not chained
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT

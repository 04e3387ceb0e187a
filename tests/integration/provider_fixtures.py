"""Helpers for tests that talk to a provider process directly over gRPC (no controller in between)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path

import grpc
import pytest

from virtualkubelet.provider.v1 import container_pb2, handshake_pb2, pod_pb2, provider_pb2_grpc
from vk_harness.processes import free_port

BIN = Path(sys.executable).parent


@contextlib.contextmanager
def provider_process(
    console_script: str, args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """A provider's console script on a free port; yields its address once it says it listens."""
    address = f"127.0.0.1:{free_port()}"
    argv = [str(BIN / console_script), "--listen", address, *args]
    with log_path.open("a") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 30
        while "listening on" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{console_script} did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.asynccontextmanager
async def connected(address: str, node: str) -> AsyncIterator[provider_pb2_grpc.ProviderServiceAsyncStub]:
    """A stub on a channel to ``address``, after the handshake every controller starts with."""
    async with grpc.aio.insecure_channel(address) as channel:
        stub = provider_pb2_grpc.ProviderServiceStub(channel)
        request = handshake_pb2.HandshakeRequest(
            protocol_version=handshake_pb2.ProtocolVersion(major=1, minor=0), node_name=node
        )
        await stub.Handshake(request, timeout=30)
        yield stub


def protocol_pod(name: str, *, namespace: str, node: str, **fields: object) -> pod_pb2.Pod:
    """A small long-running pod as the controller would send it; ``fields`` set or extend Pod fields."""
    amounts = container_pb2.ResourceList(cpu_millicores=250, memory_bytes=128 * 1024 * 1024)
    container = container_pb2.Container(
        name="main",
        image="busybox:1.36",
        command=["sleep", "3600"],
        resources=container_pb2.ResourceRequirements(requests=amounts, limits=amounts),
    )
    pod = pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid=str(uuid.uuid4()), namespace=namespace, name=name),
        revision="r1",
        containers=[container],
        restart_policy=pod_pb2.RESTART_POLICY_NEVER,
        node_name=node,
    )
    for key, value in fields.items():
        getattr(pod, key).extend(value) if isinstance(value, list) else setattr(pod, key, value)
    return pod

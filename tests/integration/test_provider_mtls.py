"""Controller ↔ provider over mutual TLS, a certificate rotation without a restart, and a unix socket.

The TLS files live in directories laid out as a Secret volume is (each name a symlink into ``..data``, which is
itself a symlink swapped in one rename), so every rotation step replaces a certificate and its key together.
The rotation moves both sides to a new CA in three steps, each applied while both processes run: trust both CAs,
switch to leaves of the new CA, trust only the new CA. The provider logs the fingerprint of the client certificate
each handshake came with, which shows which certificate the controller uses.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from integration.stack_fixtures import Stack, running_stack, wait_for
from virtualkubelet.provider.v1 import node_pb2, provider_pb2_grpc
from vk_harness import ControlPlane
from vk_harness.pki import CertificateAuthority, KeyPair
from vk_harness.stack import ControllerIntervals, start_controller, start_mock_provider
from vk_provider_sdk.pemfiles import certificate_fingerprint

_generation = itertools.count()

#: How long a rotation may take to be used: the controller looks at its files at most once a second before a call
#: (it calls Ping every ``provider_ping_interval``), then reopens its watches after a short backoff.
ROTATION_WAIT = 30.0


def publish(directory: Path, files: dict[str, bytes]) -> None:
    """Replace the contents of a Secret-volume-like directory atomically."""
    directory.mkdir(exist_ok=True)
    version = f"..{next(_generation)}"
    (directory / version).mkdir()
    for name, data in files.items():
        (directory / version / name).write_bytes(data)
        link = directory / name
        if not link.is_symlink():
            link.symlink_to(Path("..data") / name)
    staged = directory / "..data_tmp"
    staged.symlink_to(version)
    os.replace(staged, directory / "..data")


def server_leaf(ca: CertificateAuthority, stem: str) -> KeyPair:
    return ca.issue(stem, common_name="vk-provider", ip_addresses=("127.0.0.1",), dns_names=("localhost",), server=True)


def client_leaf(ca: CertificateAuthority, stem: str) -> KeyPair:
    return ca.issue(stem, common_name="vk-controller", client=True)


def ping(address: str, *, ca: bytes, leaf: KeyPair | None) -> grpc.StatusCode:
    """One Ping over a fresh channel with these credentials: its status code."""

    async def call() -> grpc.StatusCode:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=leaf.key_pem if leaf else None,
            certificate_chain=leaf.cert_pem if leaf else None,
        )
        options = [("grpc.use_local_subchannel_pool", 1)]
        async with grpc.aio.secure_channel(address, credentials, options=options) as channel:
            stub = provider_pb2_grpc.ProviderServiceStub(channel)
            try:
                await stub.Ping(node_pb2.PingRequest(), timeout=10)
            except grpc.RpcError as error:
                code: grpc.StatusCode = error.code()
                return code
            return grpc.StatusCode.OK

    return asyncio.run(call())


def handshake_fingerprints(log: Path) -> list[str]:
    """The client-certificate fingerprints of the provider's handshakes, in order."""
    return re.findall(
        r"handshake from controller .* with client certificate .* \(sha256 ([0-9a-f]{64})\)", log.read_text()
    )


@dataclass
class TLSStack:
    stack: Stack
    old_ca: CertificateAuthority
    server: KeyPair
    client: KeyPair
    provider_dir: Path
    controller_dir: Path


@pytest.fixture
def tls_stack(control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str) -> Iterator[TLSStack]:
    old_ca = CertificateAuthority(tmp_path, common_name="old-ca")
    server, client = server_leaf(old_ca, "server-old"), client_leaf(old_ca, "client-old")
    provider_dir, controller_dir = tmp_path / "provider-tls", tmp_path / "controller-tls"
    publish(provider_dir, {"tls.crt": server.cert_pem, "tls.key": server.key_pem, "ca.crt": old_ca.cert_pem})
    publish(controller_dir, {"tls.crt": client.cert_pem, "tls.key": client.key_pem, "ca.crt": old_ca.cert_pem})
    provider_args = (
        f"--tls-cert={provider_dir / 'tls.crt'}",
        f"--tls-key={provider_dir / 'tls.key'}",
        f"--tls-client-ca={provider_dir / 'ca.crt'}",
    )
    controller_args = (
        f"--provider-tls-ca={controller_dir / 'ca.crt'}",
        f"--provider-tls-cert={controller_dir / 'tls.crt'}",
        f"--provider-tls-key={controller_dir / 'tls.key'}",
    )
    with running_stack(
        control_plane, tmp_path, namespace, node_name, provider_args=provider_args, controller_args=controller_args
    ) as stack:
        yield TLSStack(stack, old_ca, server, client, provider_dir, controller_dir)


def test_pods_run_over_mtls_and_keep_running_through_a_ca_rotation_without_restart(
    tls_stack: TLSStack, tmp_path: Path
) -> None:
    stack, old_ca, old_server, old_client = tls_stack.stack, tls_stack.old_ca, tls_stack.server, tls_stack.client
    provider_dir, controller_dir = tls_stack.provider_dir, tls_stack.controller_dir
    provider_log = stack.workdir / "mock-provider.log"
    provider_pid = stack.provider.process.pid

    stack.create_pod("before", command=["sleep", "3600"])
    stack.wait_ready_pod("before")
    assert handshake_fingerprints(provider_log)[-1] == certificate_fingerprint(old_client.cert_pem)

    # Without a client certificate, or with one of another CA, the provider refuses the connection.
    stranger = CertificateAuthority(tmp_path, common_name="stranger-ca")
    assert ping(stack.provider.address, ca=old_ca.cert_pem, leaf=None) == grpc.StatusCode.UNAVAILABLE
    stranger_leaf = client_leaf(stranger, "stranger")
    assert ping(stack.provider.address, ca=old_ca.cert_pem, leaf=stranger_leaf) == grpc.StatusCode.UNAVAILABLE
    assert ping(stack.provider.address, ca=old_ca.cert_pem, leaf=old_client) == grpc.StatusCode.OK

    # 1. Both sides trust both CAs.
    new_ca = CertificateAuthority(tmp_path, common_name="new-ca")
    both = old_ca.cert_pem + new_ca.cert_pem
    publish(provider_dir, {"tls.crt": old_server.cert_pem, "tls.key": old_server.key_pem, "ca.crt": both})
    publish(controller_dir, {"tls.crt": old_client.cert_pem, "tls.key": old_client.key_pem, "ca.crt": both})

    # 2. Both sides switch to certificates of the new CA; the controller reconnects with its new one.
    new_server, new_client = server_leaf(new_ca, "server-new"), client_leaf(new_ca, "client-new")
    publish(provider_dir, {"tls.crt": new_server.cert_pem, "tls.key": new_server.key_pem, "ca.crt": both})
    publish(controller_dir, {"tls.crt": new_client.cert_pem, "tls.key": new_client.key_pem, "ca.crt": both})
    new_fingerprint = certificate_fingerprint(new_client.cert_pem)
    wait_for(
        "the controller to handshake with its new client certificate",
        lambda: new_fingerprint in handshake_fingerprints(provider_log),
        timeout=ROTATION_WAIT,
        describe=lambda: stack.controller.process.log_tail() + stack.provider.process.log_tail(),
    )

    # 3. Only the new CA is trusted, on both sides.
    publish(provider_dir, {"tls.crt": new_server.cert_pem, "tls.key": new_server.key_pem, "ca.crt": new_ca.cert_pem})
    publish(controller_dir, {"tls.crt": new_client.cert_pem, "tls.key": new_client.key_pem, "ca.crt": new_ca.cert_pem})
    handshakes = len(handshake_fingerprints(provider_log))
    wait_for(
        "the controller to reconnect once it trusts only the new CA",
        lambda: len(handshake_fingerprints(provider_log)) > handshakes,
        timeout=ROTATION_WAIT,
        describe=lambda: stack.controller.process.log_tail(),
    )
    assert set(handshake_fingerprints(provider_log)[handshakes:]) == {new_fingerprint}

    # The provider now serves the new certificate and accepts only clients of the new CA, in the same process.
    assert ping(stack.provider.address, ca=new_ca.cert_pem, leaf=new_client) == grpc.StatusCode.OK
    assert ping(stack.provider.address, ca=old_ca.cert_pem, leaf=new_client) == grpc.StatusCode.UNAVAILABLE
    assert ping(stack.provider.address, ca=new_ca.cert_pem, leaf=old_client) == grpc.StatusCode.UNAVAILABLE
    assert stack.provider.process.running()
    assert stack.provider.process.pid == provider_pid
    assert stack.controller.process.running()

    # Pods keep running, are not created again, and new ones run over the new connection.
    stack.create_pod("after", command=["sleep", "3600"])
    stack.wait_ready_pod("after")
    assert stack.wait_ready_pod("before")["status"]["phase"] == "Running"
    before_uid = stack.must_pod("before")["metadata"]["uid"]
    assert stack.backend()["creates"][before_uid] == 1
    assert stack.node_condition()["status"] == "True"


def test_controller_and_provider_talk_over_a_unix_socket(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str
) -> None:
    socket = tmp_path / "provider.sock"
    intervals = ControllerIntervals()
    provider = start_mock_provider(
        tmp_path, state_file=tmp_path / "mock-backend.json", extra_args=("--listen", f"unix:{socket}")
    )
    provider.address = f"unix:{socket}"
    controller = start_controller(
        control_plane, tmp_path, node_name=node_name, provider_address=provider.address, intervals=intervals
    )
    stack = Stack(control_plane, tmp_path, node_name, namespace, provider, controller, intervals)
    try:
        assert f"listening on unix:{socket}" in provider.process.log_tail(200)
        stack.create_pod("over-unix", command=["sleep", "3600"])
        stack.wait_ready_pod("over-unix")
        uid = stack.must_pod("over-unix")["metadata"]["uid"]
        stack.backend_with_exactly({uid})
    finally:
        controller.process.stop()
        provider.process.stop()

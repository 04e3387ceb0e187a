"""Where the provider is and how to reach it: the settings of one run and the gRPC channel they describe.

The kit connects the way the controller does (64 MiB messages, keepalive, optional mTLS), so a provider that works
with the kit works with the controller's transport too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from virtualkubelet.provider.v1 import handshake_pb2
from vk_conformance import KIT_PROTOCOL_VERSION, __version__

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_NODE_NAME = "vk-conformance"
DEFAULT_TIMEOUT = 60.0
#: The most a single unary call may take (the controller's default deadline), however long --timeout is.
UNARY_DEADLINE = 30.0

_OPTIONS: list[tuple[str, int | str]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


@dataclass(frozen=True)
class Settings:
    """One run of the kit."""

    #: ``host:port`` or ``unix:/path``, as gRPC spells targets.
    target: str
    #: The node name sent in Handshake; providers may refuse a different one later, so it is stable by default.
    node_name: str = DEFAULT_NODE_NAME
    #: The most any single wait (a pod reaching a state, a stream answering) may take, in seconds.
    timeout: float = DEFAULT_TIMEOUT
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: ``module:attr`` of the hook that scripts a simulated backend (see vk_conformance.hook).
    hook: str | None = None

    @property
    def unary_deadline(self) -> float:
        return min(self.timeout, UNARY_DEADLINE)

    @property
    def uses_tls(self) -> bool:
        return self.tls_ca is not None or self.tls_cert is not None

    def validate(self) -> None:
        if not self.target:
            raise ValueError("--target is required: host:port or unix:/path of the provider")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together (the client certificate for mTLS)")
        for path in (self.tls_ca, self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"{path}: no such file")
        if self.timeout <= 0:
            raise ValueError("--timeout must be a positive number of seconds")

    def _credentials(self) -> grpc.ChannelCredentials:
        def read(path: Path | None) -> bytes | None:
            return path.read_bytes() if path is not None else None

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.tls_ca),
            private_key=read(self.tls_key),
            certificate_chain=read(self.tls_cert),
        )

    def aio_channel(self) -> grpc.aio.Channel:
        if self.uses_tls:
            return grpc.aio.secure_channel(self.target, self._credentials(), options=_OPTIONS)
        return grpc.aio.insecure_channel(self.target, options=_OPTIONS)

    def blocking_channel(self) -> grpc.Channel:
        if self.uses_tls:
            return grpc.secure_channel(self.target, self._credentials(), options=_OPTIONS)
        return grpc.insecure_channel(self.target, options=_OPTIONS)

    def handshake_request(
        self, *, major: int = KIT_PROTOCOL_VERSION[0], minor: int = KIT_PROTOCOL_VERSION[1]
    ) -> handshake_pb2.HandshakeRequest:
        return handshake_pb2.HandshakeRequest(
            protocol_version=handshake_pb2.ProtocolVersion(major=major, minor=minor),
            controller_version=f"vk-conformance/{__version__}",
            node_name=self.node_name,
            cluster_domain="cluster.local",
        )

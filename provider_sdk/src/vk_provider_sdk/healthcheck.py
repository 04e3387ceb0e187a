"""A container health probe for providers: ``python -m vk_provider_sdk.healthcheck [host:port]``.

It asks the provider's ``grpc.health.v1.Health`` service for the overall status and exits 0 only for SERVING, so an
image's ``HEALTHCHECK`` needs no extra binary. Without an argument it probes the address the provider listens on
(``VK_PROVIDER_LISTEN``, default ``127.0.0.1:50051``), with a wildcard host replaced by loopback. Plain-text only: a
provider serving TLS is probed by its orchestrator's own gRPC check instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

DEFAULT_ADDRESS = "127.0.0.1:50051"
TIMEOUT_SECONDS = 3.0


def probe_address(listen: str) -> str:
    """Where to probe a provider that listens on ``listen``: wildcard hosts become loopback."""
    if listen.startswith("unix:"):
        return listen
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # noqa: S104 - recognising a wildcard, not binding one
        host = "127.0.0.1"
    return f"{host}:{port}"


def check(address: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    """True when the provider at ``address`` reports SERVING."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError as error:
            print(f"unhealthy: {address}: {error.code().name}", file=sys.stderr)
            return False
    serving: bool = response.status == health_pb2.HealthCheckResponse.SERVING
    if not serving:
        print(
            f"unhealthy: {address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}",
            file=sys.stderr,
        )
    return serving


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    listen = args[0] if args else os.environ.get("VK_PROVIDER_LISTEN", DEFAULT_ADDRESS)
    return 0 if check(probe_address(listen)) else 1


if __name__ == "__main__":
    sys.exit(main())

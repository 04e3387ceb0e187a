"""The controller's side of the provider protocol: one gRPC channel and typed calls over it.

Every failed call raises a :class:`vk_provider_sdk.errors.ProviderError` subclass (see the error contract in
``provider.proto``), so callers decide by behaviour: ``terminal_for_pod`` fails the pod, ``retryable`` backs off.
Unary calls carry a deadline; streams do not (they live as long as the connection).

Every unary call goes through :meth:`ProviderClient._unary`, the one place that times it by method and status code
(``vk_provider_rpc_*``), makes it a client span and sends the trace context (``traceparent``) in its metadata when
tracing is on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc

from virtualkubelet.provider.v1 import (
    handshake_pb2,
    logs_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    stats_pb2,
    status_pb2,
)
from vk_controller.metrics import Metrics
from vk_provider_sdk import tracing
from vk_provider_sdk.errors import ProviderError, from_rpc_error

Req = TypeVar("Req")
Resp = TypeVar("Resp")

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class ProtocolMismatch(ProviderError):
    """The provider speaks another major version of the protocol: nothing can be done with it."""

    retryable = False
    default_reason = "ProtocolMismatch"


@dataclass(frozen=True)
class TLSSettings:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class PodGone:
    """The provider no longer has the pod: ``requested`` when it followed a DeletePod."""

    ref: pod_pb2.PodRef
    requested: bool
    reason: str
    message: str
    final_status: status_pb2.PodStatus | None


@dataclass(frozen=True)
class Synced:
    """Every pod the provider had when the watch started has been sent."""


WatchEvent = status_pb2.PodRecord | PodGone | Synced


def _channel(address: str, tls: TLSSettings | None) -> grpc.aio.Channel:
    options: list[tuple[str, int | str]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.http2.bdp_probe", 0),
        ("grpc.max_reconnect_backoff_ms", 5_000),
    ]
    if tls is None or not (tls.ca or tls.cert):
        return grpc.aio.insecure_channel(address, options=options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(tls.ca).read_bytes() if tls.ca else None,
        private_key=Path(tls.key).read_bytes() if tls.key else None,
        certificate_chain=Path(tls.cert).read_bytes() if tls.cert else None,
    )
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.aio.secure_channel(address, credentials, options=options)


class ProviderClient:
    def __init__(
        self,
        address: str,
        *,
        tls: TLSSettings | None = None,
        call_timeout: float = 30.0,
        ping_timeout: float = 5.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.address = address
        self._channel = _channel(address, tls)
        self._stub = provider_pb2_grpc.ProviderServiceStub(self._channel)
        self._call_timeout = call_timeout
        self._ping_timeout = ping_timeout
        self._metrics = metrics or Metrics()

    @property
    def stub(self) -> provider_pb2_grpc.ProviderServiceAsyncStub:
        """The generated stub (on an asyncio channel), for the streaming adapters of this package."""
        return self._stub

    async def close(self) -> None:
        await self._channel.close()

    async def _unary(
        self, method: str, call: grpc.aio.UnaryUnaryMultiCallable[Req, Resp], request: Req, *, deadline: float
    ) -> Resp:
        """One unary call: timed, traced, and its failure raised as a ProviderError."""
        code = "OK"
        started = time.perf_counter()
        try:
            with tracing.span(f"provider {method}", kind="client"):
                return await call(request, timeout=deadline, metadata=tracing.grpc_metadata())
        except grpc.RpcError as error:
            status = error.code()
            code = status.name if status is not None else "UNKNOWN"
            raise from_rpc_error(error) from error
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except Exception:
            code = "UNKNOWN"
            raise
        finally:
            self._metrics.provider_call(method, code, time.perf_counter() - started)

    async def handshake(self, *, node_name: str, controller_version: str) -> handshake_pb2.HandshakeResponse:
        request = handshake_pb2.HandshakeRequest(
            protocol_version=handshake_pb2.ProtocolVersion(major=PROTOCOL_MAJOR, minor=PROTOCOL_MINOR),
            controller_version=controller_version,
            node_name=node_name,
        )
        response = await self._unary("Handshake", self._stub.Handshake, request, deadline=self._call_timeout)
        if response.protocol_version.major != PROTOCOL_MAJOR:
            raise ProtocolMismatch(
                f"provider {response.provider_name!r} speaks protocol v{response.protocol_version.major}."
                f"{response.protocol_version.minor}; this controller speaks v{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"
            )
        return response

    async def ping(self) -> Health:
        try:
            response = await self._unary("Ping", self._stub.Ping, node_pb2.PingRequest(), deadline=self._ping_timeout)
        except ProviderError as failure:
            return Health(False, "ProviderUnreachable", f"provider at {self.address}: {failure.message}")
        healthy = response.health == node_pb2.NODE_HEALTH_HEALTHY
        return Health(healthy, response.reason or ("" if healthy else "ProviderUnhealthy"), response.message)

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        request = pod_requests_pb2.CreatePodRequest(pod=pod)
        return await self._unary("CreatePod", self._stub.CreatePod, request, deadline=self._call_timeout)

    async def update_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.UpdatePodResponse:
        request = pod_requests_pb2.UpdatePodRequest(pod=pod)
        return await self._unary("UpdatePod", self._stub.UpdatePod, request, deadline=self._call_timeout)

    async def delete_pod(
        self, ref: pod_pb2.PodRef, *, grace_period_seconds: int | None, reason: int
    ) -> pod_requests_pb2.DeletePodResponse:
        request = pod_requests_pb2.DeletePodRequest(pod=ref, reason=reason)  # type: ignore[arg-type]
        if grace_period_seconds is not None:
            request.grace_period_seconds = grace_period_seconds
        return await self._unary("DeletePod", self._stub.DeletePod, request, deadline=self._call_timeout)

    async def list_pods(self) -> list[status_pb2.PodRecord]:
        records: list[status_pb2.PodRecord] = []
        token = ""
        while True:
            request = pod_requests_pb2.ListPodsRequest(page_size=1000, page_token=token)
            page = await self._unary("ListPods", self._stub.ListPods, request, deadline=self._call_timeout)
            records.extend(page.pods)
            token = page.next_page_token
            if not token:
                return records

    async def watch_node(self) -> AsyncIterator[node_pb2.Node]:
        """The Node template now, then again after every change, until the connection drops."""
        call = self._stub.WatchNode(node_pb2.WatchNodeRequest())
        try:
            async for response in call:
                yield response.node
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        finally:
            call.cancel()

    async def watch_pods(self) -> AsyncIterator[WatchEvent]:
        """The status stream: every pod, then :class:`Synced`, then changes, until the connection drops."""
        call = self._stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
        try:
            async for event in call:
                kind = event.WhichOneof("event")
                if kind == "pod":
                    yield event.pod
                elif kind == "deleted":
                    gone = event.deleted
                    yield PodGone(
                        ref=gone.ref,
                        requested=gone.requested,
                        reason=gone.reason,
                        message=gone.message,
                        final_status=gone.final_status if gone.HasField("final_status") else None,
                    )
                elif kind == "synced":
                    yield Synced()
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        finally:
            call.cancel()

    async def get_container_logs(
        self, request: logs_pb2.GetContainerLogsRequest
    ) -> AsyncGenerator[logs_pb2.GetContainerLogsResponse, None]:
        """The log stream of one container; no deadline (it may follow). Closing the iterator cancels the call."""
        call = self._stub.GetContainerLogs(request)
        try:
            async for response in call:
                yield response
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        finally:
            call.cancel()

    async def get_stats_summary(self) -> stats_pb2.GetStatsSummaryResponse:
        request = stats_pb2.GetStatsSummaryRequest()
        return await self._unary("GetStatsSummary", self._stub.GetStatsSummary, request, deadline=self._call_timeout)

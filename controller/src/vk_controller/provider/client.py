"""The controller's side of the provider protocol: one gRPC channel and typed calls over it.

Every failed call raises a :class:`vk_provider_sdk.errors.ProviderError` subclass (see the error contract in
``provider.proto``), so callers decide by behaviour: ``terminal_for_pod`` fails the pod, ``retryable`` backs off.
Unary calls carry a deadline; streams do not (they live as long as the connection).

Every unary call goes through :meth:`ProviderClient._unary`, the one place that times it by method and status code
(``vk_provider_rpc_*``), makes it a client span and sends the trace context (``traceparent``) in its metadata when
tracing is on.

TLS files are re-read (at most once a second, before a call) and, once they change, the client opens a new channel
with them for every new call, and retires the old one: its status and node watches are cut at once (the controller
reopens them, on the new channel, as after any disconnection), other calls (logs, exec) get
``ROTATION_GRACE`` seconds to finish before it closes. So a rotated certificate is in use within a second of the
next call, without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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
from vk_controller.provider.version import PROTOCOL_MAJOR, PROTOCOL_MINOR, Negotiated, ProtocolMismatch, negotiate
from vk_provider_sdk import tracing
from vk_provider_sdk.errors import ProviderError, Unavailable, Unimplemented, from_rpc_error
from vk_provider_sdk.pemfiles import Contents, PemFiles
from vk_provider_sdk.redaction import redact, sensitive_values

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: How often, at most, the TLS files are looked at for a rotation (before a call).
TLS_RECHECK_SECONDS = 1.0
#: How long calls other than the watches may go on over a retired channel after a rotation.
ROTATION_GRACE = 30.0


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


def _tls_files(tls: TLSSettings | None) -> PemFiles | None:
    if tls is None or not (tls.ca or tls.cert):
        return None
    return PemFiles([Path(name) if name else None for name in (tls.ca, tls.key, tls.cert)])


def _channel(address: str, tls: TLSSettings | None, contents: Contents | None) -> grpc.aio.Channel:
    options: list[tuple[str, int | str]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.http2.bdp_probe", 0),
        ("grpc.max_reconnect_backoff_ms", 5_000),
        # A channel's connections are its own: a channel opened after a rotation never reuses the old handshake.
        ("grpc.use_local_subchannel_pool", 1),
    ]
    if tls is None or contents is None:
        return grpc.aio.insecure_channel(address, options=options)
    ca, key, cert = contents
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    if tls.server_name:
        options.append(("grpc.ssl_target_name_override", tls.server_name))
    return grpc.aio.secure_channel(address, credentials, options=options)


@dataclass
class _Connection:
    """One channel and its stub; ``retired`` once a rotation replaced it."""

    channel: grpc.aio.Channel
    stub: provider_pb2_grpc.ProviderServiceAsyncStub
    watches: set[Any] = field(default_factory=set)
    retired: bool = False


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
        self._tls = tls
        self._files = _tls_files(tls)
        self._checked = time.monotonic()
        self._connection = self._connect(self._files.current if self._files else None)
        self._retiring: set[asyncio.Task[None]] = set()
        self._call_timeout = call_timeout
        self._ping_timeout = ping_timeout
        self._metrics = metrics or Metrics()
        #: The versions of the last successful Handshake (None before it).
        self.negotiated: Negotiated | None = None

    def _connect(self, contents: Contents | None) -> _Connection:
        channel = _channel(self.address, self._tls, contents)
        return _Connection(channel, provider_pb2_grpc.ProviderServiceStub(channel))

    def _current(self) -> _Connection:
        """The connection for a new call: a new one when the TLS files changed since the last look."""
        now = time.monotonic()
        if self._files is None or now - self._checked < TLS_RECHECK_SECONDS:
            return self._connection
        self._checked = now
        try:
            contents = self._files.changed()
        except OSError as error:
            log.warning("cannot re-read the provider TLS files (%s); keeping the credentials in use", error)
            return self._connection
        if contents is not None:
            log.info("provider TLS files changed: new calls use a new connection with them")
            old, self._connection = self._connection, self._connect(contents)
            self._retire(old)
        return self._connection

    def _retire(self, connection: _Connection) -> None:
        connection.retired = True
        for call in list(connection.watches):
            call.cancel()
        task = asyncio.create_task(connection.channel.close(ROTATION_GRACE))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    @property
    def stub(self) -> provider_pb2_grpc.ProviderServiceAsyncStub:
        """The generated stub (on an asyncio channel), for the streaming adapters of this package."""
        return self._current().stub

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        await self._connection.channel.close()

    async def _unary(
        self,
        method: str,
        call: grpc.aio.UnaryUnaryMultiCallable[Req, Resp],
        request: Req,
        *,
        deadline: float,
        pod: pod_pb2.Pod | None = None,
    ) -> Resp:
        """One unary call: timed, traced, and its failure raised as a ProviderError; with ``pod``, that pod's
        secret values are cut out of the failure's message before the span or anyone else sees it."""
        code = "OK"
        started = time.perf_counter()
        try:
            with tracing.span(f"provider {method}", kind="client"):
                try:
                    return await call(request, timeout=deadline, metadata=tracing.grpc_metadata())
                except grpc.RpcError as error:
                    status = error.code()
                    code = status.name if status is not None else "UNKNOWN"
                    failure = from_rpc_error(error)
                    redacted = redact(failure.message, sensitive_values(pod)) if pod is not None else failure.message
                    if redacted == failure.message:
                        raise failure from error
                    failure.message, failure.args = redacted, (redacted,)
                    raise failure from None  # the gRPC error underneath still has the secret
        except ProviderError:
            raise  # its code was counted above
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
        try:
            response = await self._unary("Handshake", self.stub.Handshake, request, deadline=self._call_timeout)
        except Unimplemented as error:  # no virtualkubelet.provider.v1 service: another major, or not a provider
            raise ProtocolMismatch(
                f"the provider at {self.address} does not serve virtualkubelet.provider.v{PROTOCOL_MAJOR} "
                f"(Handshake: {error.message}); this controller speaks protocol {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"
            ) from error
        except ProviderError as error:
            if error.reason != "ProtocolVersionMismatch":  # the SDK's refusal of a controller of another major
                raise
            refused = f"the provider at {self.address} refused this controller: {error.message}"
            raise ProtocolMismatch(refused) from error
        version = response.protocol_version
        negotiated = negotiate(response.provider_name, version.major, version.minor)
        if negotiated != self.negotiated:
            log.log(logging.DEBUG if version.minor == PROTOCOL_MINOR else logging.INFO, "%s", negotiated.summary())
        self.negotiated = negotiated
        return response

    async def ping(self) -> Health:
        try:
            response = await self._unary("Ping", self.stub.Ping, node_pb2.PingRequest(), deadline=self._ping_timeout)
        except ProviderError as failure:
            return Health(False, "ProviderUnreachable", f"provider at {self.address}: {failure.message}")
        healthy = response.health == node_pb2.NODE_HEALTH_HEALTHY
        return Health(healthy, response.reason or ("" if healthy else "ProviderUnhealthy"), response.message)

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        request = pod_requests_pb2.CreatePodRequest(pod=pod)
        return await self._unary("CreatePod", self.stub.CreatePod, request, deadline=self._call_timeout, pod=pod)

    async def update_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.UpdatePodResponse:
        request = pod_requests_pb2.UpdatePodRequest(pod=pod)
        return await self._unary("UpdatePod", self.stub.UpdatePod, request, deadline=self._call_timeout, pod=pod)

    async def delete_pod(
        self, ref: pod_pb2.PodRef, *, grace_period_seconds: int | None, reason: int
    ) -> pod_requests_pb2.DeletePodResponse:
        request = pod_requests_pb2.DeletePodRequest(pod=ref, reason=reason)  # type: ignore[arg-type]
        if grace_period_seconds is not None:
            request.grace_period_seconds = grace_period_seconds
        return await self._unary("DeletePod", self.stub.DeletePod, request, deadline=self._call_timeout)

    async def list_pods(self) -> list[status_pb2.PodRecord]:
        records: list[status_pb2.PodRecord] = []
        token = ""
        while True:
            request = pod_requests_pb2.ListPodsRequest(page_size=1000, page_token=token)
            page = await self._unary("ListPods", self.stub.ListPods, request, deadline=self._call_timeout)
            records.extend(page.pods)
            token = page.next_page_token
            if not token:
                return records

    async def watch_node(self) -> AsyncIterator[node_pb2.Node]:
        """The Node template now, then again after every change, until the connection drops."""
        connection = self._current()
        call = connection.stub.WatchNode(node_pb2.WatchNodeRequest())
        connection.watches.add(call)
        try:
            async for response in call:
                yield response.node
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        except asyncio.CancelledError:
            _raise_if_retired(connection)
            raise
        finally:
            connection.watches.discard(call)
            call.cancel()

    async def watch_pods(self) -> AsyncIterator[WatchEvent]:
        """The status stream: every pod, then :class:`Synced`, then changes, until the connection drops."""
        connection = self._current()
        call = connection.stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
        connection.watches.add(call)
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
        except asyncio.CancelledError:
            _raise_if_retired(connection)
            raise
        finally:
            connection.watches.discard(call)
            call.cancel()

    async def get_container_logs(
        self, request: logs_pb2.GetContainerLogsRequest
    ) -> AsyncGenerator[logs_pb2.GetContainerLogsResponse, None]:
        """The log stream of one container; no deadline (it may follow). Closing the iterator cancels the call."""
        connection = self._current()
        call = connection.stub.GetContainerLogs(request)
        try:
            async for response in call:
                yield response
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        except asyncio.CancelledError:
            _raise_if_retired(connection)
            raise
        finally:
            call.cancel()

    async def get_stats_summary(self) -> stats_pb2.GetStatsSummaryResponse:
        request = stats_pb2.GetStatsSummaryRequest()
        return await self._unary("GetStatsSummary", self.stub.GetStatsSummary, request, deadline=self._call_timeout)


def _raise_if_retired(connection: _Connection) -> None:
    """A call cut because a rotation retired its channel ends as a retryable failure, not as a cancellation of
    the task that reads it (gRPC raises CancelledError in the reader when a call is cancelled or its channel
    closed)."""
    task = asyncio.current_task()
    if connection.retired and (task is None or task.cancelling() == 0):
        raise Unavailable("the provider TLS credentials changed; reconnect with the new ones") from None

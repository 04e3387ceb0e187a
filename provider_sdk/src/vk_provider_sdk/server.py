"""The gRPC server every Python provider runs: ``ProviderService`` over ``grpc.aio``, delegating to a Provider.

What it adds around a :class:`~vk_provider_sdk.provider.Provider`:

- **The error contract.** A :class:`~vk_provider_sdk.errors.ProviderError` becomes its status code with
  ``ErrorInfo`` (domain defaulting to the provider name) and ``RetryInfo`` details. Any other exception becomes
  INTERNAL with a generic message, and its traceback goes to the log only: exception texts may quote request
  contents, which can hold secret values. The pod's secret values are cut out of both (``redaction.py``).
- **Protocol rules that need no backend knowledge:** the major-version check of Handshake, ``instance_id``,
  answering a repeated CreatePod from the status hub (``already_existed``, nothing created), WatchPods from the hub,
  GetPodStatus from GetPod, the ``start``-first rule and message order of exec, attach and port-forward.
- **Transport:** 64 MiB messages both ways (docs/protocol.md), client keepalive pings every 10 s or more allowed
  without GOAWAY, ``host:port`` or ``unix:/path``, optional TLS or mTLS from PEM files, re-read when they change
  (rotation without a restart: each new connection's handshake uses the files' current contents).
- **Tracing** (off unless ``OTEL_*`` asks, see ``tracing.py``): each unary call is a server span, child of the
  caller's span when its metadata carries ``traceparent``.
- **Operations:** ``grpc.health.v1.Health`` (SERVING while the provider's Ping is healthy, NOT_SERVING from the start
  of shutdown), server reflection, and a graceful stop: streams that never end on their own (WatchPods, WatchNode)
  are ended first, then in-flight calls get the grace period, then the provider is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import stat
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Never, TypeVar, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # type: ignore[import-untyped]
from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped]

from virtualkubelet.provider.v1 import (
    handshake_pb2,
    logs_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2,
    provider_pb2_grpc,
    stats_pb2,
    streaming_pb2,
)
from vk_provider_sdk import errors, tracing
from vk_provider_sdk.pemfiles import Contents, PemFiles, certificate_fingerprint
from vk_provider_sdk.provider import Provider
from vk_provider_sdk.redaction import redact, sensitive_values
from vk_provider_sdk.sessions import AttachSession, ExecSession, PortForwardConnection, _Inbox, _Outbox

log = logging.getLogger(__name__)

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SERVICE_NAME: str = provider_pb2.DESCRIPTOR.services_by_name["ProviderService"].full_name
SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # The controller pings every 30 s on long-lived streams; accept pings down to every 10 s, also without calls.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
    # Never share a port with another process: a second provider on the same port must fail, not split the calls.
    ("grpc.so_reuseport", 0),
]
INTERNAL_MESSAGE = "internal error in the provider; its log has the details"


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for TLS; with ``client_ca`` the server requires client certificates signed by it (mTLS)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def credentials(self) -> grpc.ServerCredentials:
        """Credentials that follow the files: each new connection's handshake uses their current contents (a
        rotated certificate, key or client CA applies to the connections made after it; open ones keep theirs)."""
        files = PemFiles((self.key, self.cert, self.client_ca))

        def configuration(contents: Contents) -> grpc.ServerCertificateConfiguration:
            key, cert, roots = contents
            assert key is not None
            assert cert is not None
            return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=roots)

        def fetch() -> grpc.ServerCertificateConfiguration | None:
            try:
                contents = files.changed()
            except OSError as error:
                log.warning("cannot re-read the TLS files (%s); keeping the certificates in use", error)
                return None
            if contents is None:
                return None
            log.info("TLS files changed (%s): new connections use them", ", ".join(map(str, files.paths[1:2])))
            return configuration(contents)

        # gRPC reads None from the fetcher as "no change" (its stubs do not say so).
        fetcher = cast(Callable[[], grpc.ServerCertificateConfiguration], fetch)
        return grpc.dynamic_ssl_server_credentials(
            configuration(files.current), fetcher, require_client_authentication=self.client_ca is not None
        )


class _Servicer(provider_pb2_grpc.ProviderServiceServicer):
    """Each RPC: translate the request, call the provider under the error contract, translate the answer."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider
        self._domain = provider.info().name

    # -- the error contract ---------------------------------------------------------------------------------------

    async def _abort(self, context: Context, method: str, error: Exception, pod: pod_pb2.Pod | None = None) -> Never:
        # The pod's secret values are cut out of what is logged and answered (see redaction.py).
        secrets = sensitive_values(pod) if pod is not None else frozenset()
        if isinstance(error, errors.ProviderError):
            error.domain = error.domain or self._domain
            error.message = redact(error.message, secrets)
            log.debug("%s: %s %s: %s", method, error.code.name, error.reason, error.message)
            await context.abort_with_status(errors.to_status(error))
        if secrets:
            log.error("%s failed\n%s", method, redact("".join(traceback.format_exception(error)), secrets).rstrip())
        else:
            log.error("%s failed", method, exc_info=error)
        await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)

    async def _call(
        self, context: Context, method: str, call: Callable[[], Awaitable[T]], *, pod: pod_pb2.Pod | None = None
    ) -> T:
        # With tracing on, a server span continues the controller's trace (``traceparent`` in the metadata).
        with tracing.server_span(f"ProviderService/{method}", context.invocation_metadata()):
            try:
                return await call()
            except Exception as error:  # the error contract: every failure gets a status
                await self._abort(context, method, error, pod)

    async def _stream(self, context: Context, method: str, items: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        try:
            async for item in items():
                yield item
        except Exception as error:  # as in _call
            await self._abort(context, method, error)

    # -- handshake and node ---------------------------------------------------------------------------------------

    async def Handshake(  # noqa: N802 - gRPC method names
        self, request: handshake_pb2.HandshakeRequest, context: Context
    ) -> handshake_pb2.HandshakeResponse:
        async def handshake() -> handshake_pb2.HandshakeResponse:
            theirs = request.protocol_version
            info = self._provider.info()
            major, minor = info.protocol_version
            if theirs.major != major:
                raise errors.NotReady(
                    f"protocol version mismatch: the controller speaks {theirs.major}.{theirs.minor}, this provider "
                    f"speaks {major}.{minor}; the major versions must be equal",
                    reason="ProtocolVersionMismatch",
                )
            await self._provider.handshake(request)
            log.info(
                "handshake from controller %s (protocol %d.%d) for node %r%s",
                request.controller_version or "(unknown version)",
                theirs.major,
                theirs.minor,
                request.node_name,
                _client_certificate(context),
            )
            return handshake_pb2.HandshakeResponse(
                protocol_version=handshake_pb2.ProtocolVersion(major=major, minor=minor),
                provider_name=info.name,
                provider_version=info.version,
                instance_id=self._provider.instance_id,
                capabilities=info.capabilities,
                node=await self._provider.node(),
                include_kubernetes_pod_json=info.include_kubernetes_pod_json,
            )

        return await self._call(context, "Handshake", handshake)

    async def Ping(  # noqa: N802 - gRPC method names
        self, request: node_pb2.PingRequest, context: Context
    ) -> node_pb2.PingResponse:
        return await self._call(context, "Ping", self._provider.ping)

    async def WatchNode(  # noqa: N802 - gRPC method names
        self, request: node_pb2.WatchNodeRequest, context: Context
    ) -> AsyncIterator[node_pb2.WatchNodeResponse]:
        async def nodes() -> AsyncIterator[node_pb2.WatchNodeResponse]:
            async for node in self._provider.watch_node():
                yield node_pb2.WatchNodeResponse(node=node)

        async for response in self._stream(context, "WatchNode", nodes):
            yield response

    # -- pods -----------------------------------------------------------------------------------------------------

    async def CreatePod(  # noqa: N802 - gRPC method names
        self, request: pod_requests_pb2.CreatePodRequest, context: Context
    ) -> pod_requests_pb2.CreatePodResponse:
        async def create() -> pod_requests_pb2.CreatePodResponse:
            meta = request.pod.metadata
            if not meta.uid:
                raise errors.InvalidPod("metadata.uid: required")
            existing = self._provider.pods.get(meta.uid)
            if existing is not None:
                log.info("CreatePod %s/%s (%s): already exists", meta.namespace, meta.name, meta.uid)
                return pod_requests_pb2.CreatePodResponse(status=existing.status, already_existed=True)
            log.info("CreatePod %s/%s (%s)", meta.namespace, meta.name, meta.uid)
            return await self._provider.create_pod(request.pod)

        return await self._call(context, "CreatePod", create, pod=request.pod)

    async def UpdatePod(  # noqa: N802 - gRPC method names
        self, request: pod_requests_pb2.UpdatePodRequest, context: Context
    ) -> pod_requests_pb2.UpdatePodResponse:
        async def update() -> pod_requests_pb2.UpdatePodResponse:
            meta = request.pod.metadata
            if not meta.uid:
                raise errors.InvalidPod("metadata.uid: required")
            log.info("UpdatePod %s/%s (%s) to revision %r", meta.namespace, meta.name, meta.uid, request.pod.revision)
            return pod_requests_pb2.UpdatePodResponse(status=await self._provider.update_pod(request.pod))

        return await self._call(context, "UpdatePod", update, pod=request.pod)

    async def DeletePod(  # noqa: N802 - gRPC method names
        self, request: pod_requests_pb2.DeletePodRequest, context: Context
    ) -> pod_requests_pb2.DeletePodResponse:
        async def delete() -> pod_requests_pb2.DeletePodResponse:
            ref = request.pod
            if not ref.uid:
                raise errors.InvalidPod("pod.uid: required")
            grace = request.grace_period_seconds if request.HasField("grace_period_seconds") else None
            log.info("DeletePod %s/%s (%s), grace period %s", ref.namespace, ref.name, ref.uid, grace)
            return await self._provider.delete_pod(request)

        return await self._call(context, "DeletePod", delete)

    async def GetPod(  # noqa: N802 - gRPC method names
        self, request: pod_requests_pb2.GetPodRequest, context: Context
    ) -> pod_requests_pb2.GetPodResponse:
        async def get() -> pod_requests_pb2.GetPodResponse:
            return pod_requests_pb2.GetPodResponse(pod=await self._provider.get_pod(request.pod))

        return await self._call(context, "GetPod", get)

    async def ListPods(  # noqa: N802 - gRPC method names
        self, request: pod_requests_pb2.ListPodsRequest, context: Context
    ) -> pod_requests_pb2.ListPodsResponse:
        async def list_() -> pod_requests_pb2.ListPodsResponse:
            return pod_requests_pb2.ListPodsResponse(pods=await self._provider.list_pods())

        return await self._call(context, "ListPods", list_)

    async def GetPodStatus(  # noqa: N802 - gRPC method names
        self, request: pod_requests_pb2.GetPodStatusRequest, context: Context
    ) -> pod_requests_pb2.GetPodStatusResponse:
        async def get() -> pod_requests_pb2.GetPodStatusResponse:
            record = await self._provider.get_pod(request.pod)
            return pod_requests_pb2.GetPodStatusResponse(status=record.status)

        return await self._call(context, "GetPodStatus", get)

    async def WatchPods(  # noqa: N802 - gRPC method names
        self, request: pod_requests_pb2.WatchPodsRequest, context: Context
    ) -> AsyncIterator[pod_requests_pb2.WatchPodsResponse]:
        async for event in self._stream(context, "WatchPods", self._provider.pods.watch):
            yield event

    # -- on user demand -------------------------------------------------------------------------------------------

    async def GetContainerLogs(  # noqa: N802 - gRPC method names
        self, request: logs_pb2.GetContainerLogsRequest, context: Context
    ) -> AsyncIterator[logs_pb2.GetContainerLogsResponse]:
        async for response in self._stream(
            context, "GetContainerLogs", lambda: self._provider.get_container_logs(request)
        ):
            yield response

    async def Exec(  # noqa: N802 - gRPC method names
        self, request_iterator: AsyncIterator[streaming_pb2.ExecRequest], context: Context
    ) -> AsyncIterator[streaming_pb2.ExecResponse]:
        async def session() -> AsyncIterator[streaming_pb2.ExecResponse]:
            first = await _first(request_iterator, "exec")
            if not first.start.command:
                raise errors.InvalidPod("start.command: at least one element is required", reason="InvalidRequest")
            exec_ = ExecSession(first.start)

            async def body() -> None:
                status = await self._provider.exec(exec_)
                await exec_._outbox.put(streaming_pb2.ExecResponse(exit=status))

            async for message in _run_session(request_iterator, exec_._inbox, exec_._outbox, body):
                yield message

        async for response in self._stream(context, "Exec", session):
            yield response

    async def Attach(  # noqa: N802 - gRPC method names
        self, request_iterator: AsyncIterator[streaming_pb2.AttachRequest], context: Context
    ) -> AsyncIterator[streaming_pb2.AttachResponse]:
        async def session() -> AsyncIterator[streaming_pb2.AttachResponse]:
            first = await _first(request_iterator, "attach")
            attach = AttachSession(first.start)

            async def body() -> None:
                status = await self._provider.attach(attach)
                await attach._outbox.started()
                if status is not None:
                    await attach._outbox.put(streaming_pb2.AttachResponse(exit=status))

            async for message in _run_session(request_iterator, attach._inbox, attach._outbox, body):
                yield message

        async for response in self._stream(context, "Attach", session):
            yield response

    async def PortForward(  # noqa: N802 - gRPC method names
        self, request_iterator: AsyncIterator[streaming_pb2.PortForwardRequest], context: Context
    ) -> AsyncIterator[streaming_pb2.PortForwardResponse]:
        async def session() -> AsyncIterator[streaming_pb2.PortForwardResponse]:
            first = await _first(request_iterator, "port-forward")
            if not 0 < first.start.port < 65536:
                raise errors.InvalidPod(f"start.port: {first.start.port} is not a TCP port", reason="InvalidRequest")
            connection = PortForwardConnection(first.start)

            async def body() -> None:
                await self._provider.port_forward(connection)
                await connection.started()
                await connection.close_write()

            async for message in _run_session(request_iterator, connection._inbox, connection._outbox, body):
                yield message

        async for response in self._stream(context, "PortForward", session):
            yield response

    async def GetStatsSummary(  # noqa: N802 - gRPC method names
        self, request: stats_pb2.GetStatsSummaryRequest, context: Context
    ) -> stats_pb2.GetStatsSummaryResponse:
        return await self._call(context, "GetStatsSummary", self._provider.get_stats_summary)


_StartT = TypeVar("_StartT", streaming_pb2.ExecRequest, streaming_pb2.AttachRequest, streaming_pb2.PortForwardRequest)


async def _first(requests: AsyncIterator[_StartT], what: str) -> _StartT:
    """The first message of a session stream, which must be ``start``."""
    try:
        first = await anext(requests)
    except StopAsyncIteration:
        raise errors.InvalidPod(f"{what}: the stream ended before its start message", reason="InvalidRequest") from None
    if first.WhichOneof("payload") != "start":
        raise errors.InvalidPod(f"{what}: the first message must be start", reason="InvalidRequest")
    return first


async def _pump_input(requests: AsyncIterator[Any], inbox: _Inbox) -> None:
    """Feed the rest of a session's request stream to its inbox; the end of the stream is the end of input."""
    try:
        async for request in requests:
            kind = request.WhichOneof("payload")
            if kind == "input":
                await inbox.feed(request.input)
            elif kind == "data":
                await inbox.put(request.data)
            elif kind == "close_write":
                inbox.end()
    finally:
        inbox.end()


async def _run_session(
    requests: AsyncIterator[Any], inbox: _Inbox, outbox: _Outbox[T], body: Callable[[], Coroutine[Any, Any, None]]
) -> AsyncIterator[T]:
    """Run the provider's side of a session while relaying its output; re-raise its error after the output."""
    reader = asyncio.create_task(_pump_input(requests, inbox))
    reader.add_done_callback(_ignore_result)
    runner = asyncio.create_task(body())
    try:
        while True:
            getter = asyncio.ensure_future(outbox.get())
            await asyncio.wait({getter, runner}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                message = getter.result()
                if message is not None:
                    yield message
                continue
            getter.cancel()
            while (message := outbox.get_nowait()) is not None:
                yield message
            runner.result()  # raises the provider's error, if any
            return
    finally:
        reader.cancel()
        runner.cancel()


def _client_certificate(context: Context) -> str:
    """`` with client certificate SUBJECT (sha256 FINGERPRINT)`` under mTLS, else empty: which certificate a
    controller connected with, for whoever rotates them."""
    auth = context.auth_context()
    pems = list(auth.get("x509_pem_cert") or [])
    if not pems:
        return ""
    subject = b",".join(auth.get("x509_subject") or []).decode(errors="replace")
    try:
        fingerprint = certificate_fingerprint(pems[0])
    except ValueError:
        fingerprint = "unknown"
    return f" with client certificate {subject} (sha256 {fingerprint})"


def _ignore_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # a broken request stream ends the session through cancellation; nothing to report


class ProviderServer:
    """A started (or startable) gRPC server for one provider."""

    def __init__(
        self,
        provider: Provider,
        *,
        listen: str = "127.0.0.1:50051",
        tls: TLSFiles | None = None,
        grace_period: float = 10.0,
        health_interval: float = 10.0,
        ping_timeout: float = 5.0,
    ) -> None:
        self.provider = provider
        self.listen = listen
        self.tls = tls
        self.grace_period = grace_period
        self.health_interval = health_interval
        self.ping_timeout = ping_timeout
        #: The address actually listened on (the real port when ``listen`` asked for port 0); set by start().
        self.address = ""
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self._health_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> str:
        """Bind the address, start the provider, then accept calls; returns the address listened on."""
        server = grpc.aio.server(options=SERVER_OPTIONS)
        provider_pb2_grpc.add_ProviderServiceServicer_to_server(_Servicer(self.provider), server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME],
            server,
        )
        self.address = _bind(server, self.listen, self.tls)
        await self.provider.start()
        await server.start()
        self._server = server
        await self._set_health(serving=True)
        self._health_task = asyncio.create_task(self._follow_health())
        return self.address

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: NOT_SERVING, end the watch streams, let calls finish within the grace period, close."""
        if self._server is None or self._stopped.is_set():
            return
        grace = self.grace_period if grace is None else grace
        log.info("stopping (grace period %.1fs)", grace)
        if self._health_task is not None:
            self._health_task.cancel()
        await self._health.enter_graceful_shutdown()
        self.provider.stop_watches()
        await self._server.stop(grace)
        try:
            await self.provider.close()
        finally:
            self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def run_until_signalled(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop gracefully."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
        await self.stop()

    async def _set_health(self, *, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in (health.OVERALL_HEALTH, SERVICE_NAME):
            await self._health.set(service, status)

    async def _follow_health(self) -> None:
        """Health follows the provider's own Ping, checked every ``health_interval`` seconds."""
        while True:
            await asyncio.sleep(self.health_interval)
            try:
                answer = await asyncio.wait_for(self.provider.ping(), self.ping_timeout)
                healthy = answer.health == node_pb2.NODE_HEALTH_HEALTHY
            except Exception:  # any failure of Ping means not serving
                log.warning("Ping failed; health is NOT_SERVING", exc_info=True)
                healthy = False
            await self._set_health(serving=healthy)


def check_listen_address(listen: str) -> None:
    """Raise ValueError unless ``listen`` is ``host:port`` or ``unix:/path``."""
    if listen.startswith("unix:"):
        if not listen.removeprefix("unix:").removeprefix("//"):
            raise ValueError(f"listen address {listen!r} has no socket path")
        return
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"listen address {listen!r} is neither host:port nor unix:/path")


def _bind(server: grpc.aio.Server, listen: str, tls: TLSFiles | None) -> str:
    """Add the listening port; returns the address as it should be shown (with the real port)."""
    check_listen_address(listen)
    try:
        return _add_port(server, listen, tls)
    except RuntimeError as error:  # grpc's way to say that bind() failed
        raise OSError(f"cannot listen on {listen}: the address is in use or not available ({error})") from None


def _add_port(server: grpc.aio.Server, listen: str, tls: TLSFiles | None) -> str:
    if listen.startswith("unix:"):
        path = Path(listen.removeprefix("unix:").removeprefix("//"))
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.stat(path).st_mode):
                path.unlink()  # a stale socket of a previous run
        target = f"unix:{path}"
        port = server.add_secure_port(target, tls.credentials()) if tls else server.add_insecure_port(target)
        if port == 0:
            raise OSError(f"cannot listen on {target}")
        return target
    host = listen.rpartition(":")[0]
    port = server.add_secure_port(listen, tls.credentials()) if tls else server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    return f"{host}:{port}"


@contextlib.asynccontextmanager
async def serve(
    provider: Provider,
    *,
    listen: str = "127.0.0.1:0",
    tls: TLSFiles | None = None,
    grace_period: float = 1.0,
    health_interval: float = 10.0,
) -> AsyncIterator[ProviderServer]:
    """Run a provider's server for the duration of an ``async with`` block (tests, embedding)."""
    server = ProviderServer(
        provider, listen=listen, tls=tls, grace_period=grace_period, health_interval=health_interval
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


__all__ = [
    "MAX_MESSAGE_BYTES",
    "SERVER_OPTIONS",
    "SERVICE_NAME",
    "ProviderServer",
    "TLSFiles",
    "check_listen_address",
    "serve",
]

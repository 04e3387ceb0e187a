"""The kubelet's HTTPS API: its routes, its filter, and the server that runs them on ``--kubelet-port``.

Every request passes the filter (authentication, then authorization: ``middleware.py``) before its route, whatever
the path. Routes are the kubelet's; ``/exec``, ``/attach`` and ``/portForward`` (GET for WebSockets, POST for SPDY,
with and without the pod UID) go to ``kubeletapi.streaming``. Path parameters must be valid Kubernetes names
(400 otherwise), so nothing odd reaches a handler. Server limits follow the kubelet where aiohttp allows: 1 MiB of
request line and per header, 90 s idle keep-alive. Handlers are cancelled when their client goes away, so a
followed log or an idle session does not keep a provider stream open for nobody.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from vk_controller.kube import KubeClient
from vk_controller.kubeletapi import health, logs, pods, tls
from vk_controller.kubeletapi.authn import Authenticator, TokenReviewer
from vk_controller.kubeletapi.authz import Authorizer
from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.middleware import auth_middleware, observe_middleware
from vk_controller.kubeletapi.responses import text
from vk_controller.kubeletapi.stats import StatsHandlers
from vk_controller.kubeletapi.streaming import handlers as streaming
from vk_controller.metrics import Metrics
from vk_controller.provider import logs as provider_logs
from vk_controller.provider import stats as provider_stats

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 1 << 20
IDLE_TIMEOUT = 90.0

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_UID = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,127}")
_PARAMS = {"namespace": _DNS_LABEL, "pod": _DNS_SUBDOMAIN, "container": _DNS_LABEL, "uid": _UID}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Streaming = Callable[[web.Request, KubeletContext, dict[str, str]], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ServerSettings:
    address: str = "0.0.0.0"  # noqa: S104 - the kubelet API serves the cluster, as the kubelet's does
    port: int = 10250
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    client_ca_file: str | None = None
    anonymous_auth: bool = False
    #: The node's addresses, for a self-signed certificate's names.
    node_addresses: tuple[str, ...] = ()


def path_params(request: web.Request) -> dict[str, str]:
    """The path parameters, each checked against what Kubernetes allows; raises 400 for anything else."""
    params = dict(request.match_info)
    for name, value in params.items():
        pattern = _PARAMS.get(name)
        limit = 253 if name == "pod" else 128
        if pattern is not None and (len(value) > limit or not pattern.fullmatch(value)):
            raise web.HTTPBadRequest(text=f"invalid {name} {value!r} in the path", content_type="text/plain")
    return params


def _checked(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            path_params(request)
        except web.HTTPBadRequest as error:
            return text(400, error.text or "bad request")
        return await handler(request)

    return wrapper


def _streaming(handler: Streaming, ctx: KubeletContext) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            params = path_params(request)
        except web.HTTPBadRequest as error:
            return text(400, error.text or "bad request")
        return await handler(request, ctx, params)

    return wrapper


def _with_context(
    handler: Callable[[web.Request, KubeletContext], Awaitable[web.StreamResponse]], ctx: KubeletContext
) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        return await handler(request, ctx)

    return wrapper


def build_app(
    ctx: KubeletContext, authenticator: Authenticator, authorizer: Authorizer, metrics: Metrics | None = None
) -> web.Application:
    app = web.Application(
        middlewares=[observe_middleware(metrics or Metrics()), auth_middleware(authenticator, authorizer)]
    )
    router = app.router
    fetch_logs = functools.partial(provider_logs.container_logs, ctx.provider)

    async def container_logs(request: web.Request) -> web.StreamResponse:
        return await logs.container_logs(request, ctx, fetch_logs)

    router.add_get("/containerLogs/{namespace}/{pod}/{container}", _checked(container_logs))
    sessions: tuple[tuple[str, Streaming, tuple[str, ...]], ...] = (
        ("exec", streaming.handle_exec, ("{container}", "{uid}/{container}")),
        ("attach", streaming.handle_attach, ("{container}", "{uid}/{container}")),
        ("portForward", streaming.handle_port_forward, ("", "{uid}")),
    )
    for verb, handler, tails in sessions:
        for tail in tails:
            path = f"/{verb}/{{namespace}}/{{pod}}" + (f"/{tail}" if tail else "")
            for method in ("GET", "POST"):
                router.add_route(method, path, _streaming(handler, ctx))
    stats = StatsHandlers(ctx, functools.partial(provider_stats.stats_summary, ctx.provider))
    router.add_get("/stats/summary", stats.summary)
    router.add_post("/stats/summary", stats.summary)
    router.add_get("/metrics/resource", stats.resource_metrics)
    router.add_get("/pods", _with_context(pods.pods, ctx))
    router.add_get("/pods/", _with_context(pods.pods, ctx))
    router.add_get("/runningpods/", _with_context(pods.running_pods, ctx))
    for path in health.HEALTHZ_PATHS:
        router.add_get(path, health.healthz)
    return app


async def serve_kubelet_api(
    ctx: KubeletContext, kube: KubeClient, settings: ServerSettings, metrics: Metrics | None = None
) -> None:
    """Serve until cancelled; fails at once if the port cannot be bound."""
    ssl_context = tls.server_context(
        cert_file=settings.tls_cert_file,
        key_file=settings.tls_key_file,
        client_ca_file=settings.client_ca_file,
        node_name=ctx.node_name,
        addresses=settings.node_addresses,
    )
    authenticator = Authenticator(TokenReviewer(kube), anonymous=settings.anonymous_auth)
    authorizer = Authorizer(kube, node_name=ctx.node_name)
    runner = web.AppRunner(
        build_app(ctx, authenticator, authorizer, metrics),
        access_log=None,
        handler_cancellation=True,
        keepalive_timeout=IDLE_TIMEOUT,
        max_line_size=MAX_HEADER_BYTES,
        max_field_size=MAX_HEADER_BYTES,
        shutdown_timeout=1.0,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.address, settings.port, ssl_context=ssl_context).start()
        log.info("kubelet API on https://%s:%d", settings.address, settings.port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

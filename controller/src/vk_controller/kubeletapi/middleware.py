"""The kubelet API's one filter, in front of every path (as the kubelet's is, ``/healthz`` included): authenticate,
authorize, then hand the request on with the caller's identity and the WebSocket subprotocols it may negotiate.

Answers are the kubelet's: 401 ``Unauthorized``; 403 ``Forbidden (user=..., verb=..., resource=nodes,
subresource(s)=[...])``; 500 ``Authorization error (...)`` when the API server could not be asked. Credentials are
removed from the request the handlers see: the ``Authorization`` header and the token subprotocol.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import CIMultiDict

from vk_controller.kubeletapi.authn import (
    SUBPROTOCOLS_KEY,
    USER_KEY,
    AuthenticationFailed,
    Authenticator,
)
from vk_controller.kubeletapi.authz import (
    AuthorizationError,
    Authorizer,
    error_message,
    forbidden_message,
    request_attributes,
)
from vk_controller.kubeletapi.responses import text
from vk_controller.metrics import Metrics
from vk_provider_sdk import tracing

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def _without_credentials(request: web.Request, subprotocols: list[str] | None) -> web.Request:
    if "Authorization" not in request.headers and subprotocols is None:
        return request
    headers = CIMultiDict(request.headers)
    headers.popall("Authorization", None)
    headers.popall("Sec-WebSocket-Protocol", None)
    if subprotocols:
        headers["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
    return request.clone(headers=headers)


def auth_middleware(
    authenticator: Authenticator, authorizer: Authorizer
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            who = await authenticator.authenticate(request)
        except AuthenticationFailed as error:
            log.debug("%s %s from %s: unauthorized: %s", request.method, request.path, request.remote, error)
            return text(401, "Unauthorized")
        attributes = request_attributes(request.method, request.path)
        try:
            allowed = await authorizer.authorize(who.user, attributes)
        except AuthorizationError as error:
            log.warning("authorizing %s %s for %s failed: %s", request.method, request.path, who.user.name, error)
            return text(500, error_message(who.user, attributes))
        if not allowed:
            message = forbidden_message(who.user, attributes)
            log.info("%s %s: %s", request.method, request.path, message)
            return text(403, message)
        forwarded = _without_credentials(request, who.subprotocols)
        forwarded[USER_KEY] = who.user
        forwarded[SUBPROTOCOLS_KEY] = who.subprotocols
        return await handler(forwarded)

    return guard


def route_pattern(request: web.Request) -> str:
    """The matched route's pattern (``/containerLogs/{namespace}/{pod}/{container}``), never the raw path: labels
    stay few whatever the callers send."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def observe_middleware(metrics: Metrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Outside the filter: every request is counted and timed by route pattern and code, and is a server span when
    tracing is on (continuing a ``traceparent`` header)."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        pattern = route_pattern(request)
        code = 500
        try:
            with tracing.server_span(f"kubelet {request.method} {pattern}", request.headers.items()):
                response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as error:
            code = error.status
            raise
        finally:
            metrics.kubelet_requests.labels(request.method, pattern, str(code)).observe(time.perf_counter() - started)

    return observe

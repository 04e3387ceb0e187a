"""``GET /containerLogs/{namespace}/{pod}/{container}``: ``kubectl logs``, through the API server.

Checks come in the kubelet's order, each with its status and text, because the API server passes them to the user:
the query (400, 422), the pod and the container (404), then this node's own limits (400: the provider does not
support logs, ``-f`` or ``--previous``), then the container's state as the pod's status shows it (400,
``container "c" in pod "p" is waiting to start: ContainerCreating``).

The provider's first answer is awaited before the response starts, so its refusals become HTTP errors too; when
following a quiet log the headers go out after :data:`FIRST_BATCH_WAIT` seconds anyway. Once streaming, every chunk
is written as it comes (chunked encoding; aiohttp writes through), and an error from the provider is written at the
end of the stream, as the kubelet does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiohttp import web

from vk_controller.kubeletapi import logoptions, logstream
from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.responses import text
from vk_controller.provider.logs import LogBatch, LogQuery
from vk_provider_sdk.errors import (
    InvalidPod,
    NotFound,
    NotReady,
    PermissionDenied,
    ProviderError,
    ResourceExhausted,
    Unimplemented,
)

log = logging.getLogger(__name__)

Json = dict[str, Any]
Fetch = Callable[[LogQuery], AsyncGenerator[LogBatch, None]]

FIRST_BATCH_WAIT = 1.0
_STATUS_LISTS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
_SPEC_LISTS = ("containers", "initContainers", "ephemeralContainers")
_WAITING_TEXT = {
    "ErrImagePull": "image can't be pulled",
    "ImagePullBackOff": "trying and failing to pull image",
}


def _q(value: str) -> str:
    """Go's %q for the names in messages."""
    return json.dumps(value, ensure_ascii=False)


def has_container(pod: Json, name: str) -> bool:
    spec = pod.get("spec", {})
    return any(c.get("name") == name for key in _SPEC_LISTS for c in spec.get(key) or [])


def log_problem(pod: Json, container: str, *, previous: bool) -> str | None:
    """Why the container has no log to show yet, in the kubelet's words; None if it has one."""
    status = pod.get("status", {})
    found = next(
        (s for key in _STATUS_LISTS for s in status.get(key) or [] if s.get("name") == container),
        None,
    )
    pod_name = pod["metadata"]["name"]
    where = f"container {_q(container)} in pod {_q(pod_name)}"
    if found is None:
        return f"{where} is not available"
    state, last = found.get("state") or {}, found.get("lastState") or {}
    if previous:
        return None if last.get("terminated") is not None else f"previous terminated {where} not found"
    if any(state.get(kind) is not None for kind in ("running", "terminated")) or last.get("terminated") is not None:
        return None
    if "waiting" in state:
        reason = (state["waiting"] or {}).get("reason", "")
        return f"{where} is waiting to start: {_WAITING_TEXT.get(reason, reason)}"
    return f"{where} is waiting to start - no logs yet"


def _unsupported(ctx: KubeletContext, what: str) -> web.Response:
    provider = f"provider {ctx.provider_name!r}" if ctx.provider_name else "provider"
    return text(400, f"{what} not supported by the {provider} of node {ctx.node_name}")


def provider_error_response(error: ProviderError) -> web.Response:
    """A provider's refusal, before anything was streamed: the user's mistakes are 4xx, the provider's failures 500."""
    if isinstance(error, NotFound):
        return text(404, error.message)
    if isinstance(error, ResourceExhausted):
        headers = {"Retry-After": str(max(1, round(error.retry_after)))} if error.retry_after else None
        return text(429, error.message, headers=headers)
    if isinstance(error, Unimplemented):
        return text(400, f"not supported by the provider: {error.message}")
    if isinstance(error, NotReady | InvalidPod | PermissionDenied):
        return text(400, error.message)
    return text(500, f"the provider failed: {error.message}")


async def container_logs(
    request: web.Request, ctx: KubeletContext, fetch: Fetch, *, clock: Callable[[], int] = time.time_ns
) -> web.StreamResponse:
    namespace = request.match_info["namespace"]
    pod_name = request.match_info["pod"]
    container = request.match_info["container"]
    query = {key: request.query.getall(key) for key in request.query}
    try:
        options = logoptions.parse(query)
    except logoptions.BadQuery as error:
        log.debug("containerLogs %s/%s/%s: %s", namespace, pod_name, container, error)
        return text(400, '{"message": "Unable to decode query."}')
    except logoptions.InvalidOptions as error:
        log.debug("containerLogs %s/%s/%s: %s", namespace, pod_name, container, error)
        return text(422, '{"message": "Invalid request."}')

    pod = ctx.pod(namespace, pod_name)
    if pod is None:
        return text(404, f"pod {_q(pod_name)} does not exist")
    if not has_container(pod, container):
        return text(404, f"container {_q(container)} not found in pod {_q(pod_name)}")
    declared = ctx.capabilities().logs
    if not declared.supported:
        return _unsupported(ctx, "container logs are")
    if options.follow and not declared.follow:
        return _unsupported(ctx, "following logs (kubectl logs -f) is")
    if options.previous and not declared.previous:
        return _unsupported(ctx, "logs of a previous container instance (kubectl logs --previous) are")
    problem = log_problem(pod, container, previous=options.previous)
    if problem:
        return text(400, problem)

    chosen = logstream.plan(
        options,
        declared,
        uid=pod["metadata"].get("uid", ""),
        namespace=namespace,
        name=pod_name,
        container=container,
        now_ns=clock(),
    )
    async with (
        contextlib.aclosing(fetch(chosen.query)) as batches,
        contextlib.aclosing(logstream.render(batches, chosen, clock=clock)) as chunks,
    ):
        first: asyncio.Future[bytes] = asyncio.ensure_future(anext(chunks, b""))
        try:
            await asyncio.wait({first}, timeout=FIRST_BATCH_WAIT if options.follow else None)
            refusal = first.exception() if first.done() else None
            if isinstance(refusal, ProviderError):
                return provider_error_response(refusal)
            return await _stream(request, first, chunks)
        finally:
            if not first.done():
                first.cancel()
                await asyncio.wait({first})


async def _stream(
    request: web.Request, first: asyncio.Future[bytes], chunks: AsyncGenerator[bytes, None]
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    response.enable_chunked_encoding()
    at_line_start = True
    try:
        await response.prepare(request)
        chunk = await first
        if chunk:
            await response.write(chunk)
            at_line_start = chunk.endswith(b"\n")
            async for chunk in chunks:
                await response.write(chunk)
                at_line_start = chunk.endswith(b"\n")
    except ProviderError as error:
        log.warning("log stream of %s ended by the provider: %s", request.path, error)
        message = f"the provider ended the log stream: {error.message}\n".encode()
        with contextlib.suppress(ConnectionError):
            await response.write(message if at_line_start else b"\n" + message)
    except ConnectionError:
        return response  # the user went away
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response

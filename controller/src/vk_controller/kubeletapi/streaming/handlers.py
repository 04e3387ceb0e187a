"""The kubelet's streaming endpoints: ``/exec``, ``/attach`` and ``/portForward``, after authentication and
authorization (the server routes here).

``params`` carries the path: ``namespace``, ``pod``, ``uid`` (absent or empty when the path has none) and, for exec
and attach, ``container``.

Everything that can be refused is refused *before* the upgrade, with the kubelet's plain-text HTTP answers: a bad
query (400), an unknown pod (404 ``pod does not exist``) or a uid that does not match it (404), an operation or an
option the provider did not declare (501), and any error the provider answers the start of the session with
(see :func:`errors.refused_by_provider`). Only then is the connection upgraded, to WebSocket or SPDY/3.1, whichever
the client asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.streaming import portforward, remotecommand, spdy, upgrade
from vk_controller.kubeletapi.streaming.errors import RequestRefused, refused_by_provider
from vk_controller.kubeletapi.streaming.websocket import (
    PORT_FORWARD_PROTOCOLS,
    REMOTECOMMAND_PROTOCOLS,
    ChannelConnection,
)
from vk_controller.provider.capabilities import StreamOptions
from vk_controller.provider.sessions import (
    ContainerSession,
    PodTarget,
    PortConnection,
    open_attach,
    open_exec,
    open_port_forward,
)
from vk_provider_sdk.errors import ProviderError

log = logging.getLogger(__name__)

Json = dict[str, Any]
OpenSession = Callable[[], Awaitable[ContainerSession]]


async def handle_exec(request: web.Request, ctx: KubeletContext, params: dict[str, str]) -> web.StreamResponse:
    try:
        options = remotecommand.options_from_query(request.query)
        command = request.query.getall("command", [])
        if not command:
            raise RequestRefused(400, "you must specify a command")
        target, container = _container(ctx, params)
        capabilities = ctx.capabilities().exec
        _check(capabilities, what="exec", options=options, tty=options.tty, provider=ctx.provider_name)

        def start() -> Awaitable[ContainerSession]:
            return open_exec(
                ctx.provider,
                pod=target,
                container=container["name"],
                command=command,
                tty=options.tty,
                stdin=options.stdin,
                stdout=options.stdout,
                stderr=options.stderr,
            )

        return await _remote_command(request, what="exec", options=options, capabilities=capabilities, start=start)
    except RequestRefused as refusal:
        return upgrade.refusal_response(refusal)


async def handle_attach(request: web.Request, ctx: KubeletContext, params: dict[str, str]) -> web.StreamResponse:
    try:
        # The streams follow the query; whether there is a terminal is the container's own setting.
        options = remotecommand.options_from_query(request.query)
        target, container = _container(ctx, params)
        tty = bool(container.get("tty", False))
        capabilities = ctx.capabilities().attach
        _check(capabilities, what="attach", options=options, tty=tty, provider=ctx.provider_name)

        def start() -> Awaitable[ContainerSession]:
            return open_attach(
                ctx.provider,
                pod=target,
                container=container["name"],
                tty=tty,
                stdin=options.stdin,
                stdout=options.stdout,
                stderr=options.stderr,
            )

        return await _remote_command(request, what="attach", options=options, capabilities=capabilities, start=start)
    except RequestRefused as refusal:
        return upgrade.refusal_response(refusal)


async def handle_port_forward(request: web.Request, ctx: KubeletContext, params: dict[str, str]) -> web.StreamResponse:
    try:
        target = _pod(ctx, params)
        if not ctx.capabilities().port_forward:
            raise RequestRefused(501, f"port-forward is not supported by provider {ctx.provider_name or '(unnamed)'}")

        def connect(port: int) -> Awaitable[PortConnection]:
            return open_port_forward(ctx.provider, pod=target, port=port)

        where = portforward.Target(pod=f"{target.namespace}/{target.name}", uid=target.uid)
        if upgrade.is_websocket(request):
            supported = [portforward.TUNNEL_PROTOCOL, *PORT_FORWARD_PROTOCOLS]
            chosen = upgrade.choose_websocket_protocol(request, supported)
            if chosen == portforward.TUNNEL_PROTOCOL:
                log.info("port-forward over SPDY in a WebSocket: %s", request.path)
                return await _port_forward_tunnel(request, connect=connect, where=where)
            ports = portforward.ports_from_query(request.query.getall("port", []))
            log.info("port-forward over WebSocket %r, ports %s: %s", chosen, ports, request.path)
            return await _port_forward_channels(request, protocol=chosen, ports=ports, connect=connect, where=where)
        if upgrade.is_spdy(request):
            chosen = upgrade.choose_spdy_protocol(request, [portforward.SPDY_PROTOCOL])
            log.info("port-forward over SPDY: %s", request.path)
            forward = portforward.SpdyPortForward(connect, where)
            response, connection = await upgrade.accept_spdy(request, protocol=chosen, on_stream=forward.on_stream)
            try:
                await connection.wait_closed()
            finally:
                await forward.close()
            return response
        raise RequestRefused(400, "port-forward needs a WebSocket or SPDY/3.1 upgrade request")
    except RequestRefused as refusal:
        return upgrade.refusal_response(refusal)


# -- the pod and what the provider can do ---------------------------------------------------------------------------


def _pod(ctx: KubeletContext, params: dict[str, str]) -> PodTarget:
    namespace, name = params.get("namespace", ""), params.get("pod", "")
    pod = ctx.pod(namespace, name)
    if pod is None:
        raise RequestRefused(404, "pod does not exist")
    uid = str(pod.get("metadata", {}).get("uid", ""))
    if params.get("uid") and params["uid"] != uid:
        raise RequestRefused(404, "pod not found")
    return PodTarget(uid=uid, namespace=namespace, name=name)


def _container(ctx: KubeletContext, params: dict[str, str]) -> tuple[PodTarget, Json]:
    target = _pod(ctx, params)
    pod = ctx.pod(target.namespace, target.name) or {}
    spec = pod.get("spec", {})
    name = params.get("container", "")
    for container in (
        *spec.get("containers", []),
        *spec.get("initContainers", []),
        *spec.get("ephemeralContainers", []),
    ):
        if container.get("name") == name:
            return target, dict(container)
    raise RequestRefused(404, f"container {name!r} not found in pod {target.namespace}/{target.name}")


def _check(
    capabilities: StreamOptions,
    *,
    what: Literal["exec", "attach"],
    options: remotecommand.Options,
    tty: bool,
    provider: str,
) -> None:
    by = f"provider {provider or '(unnamed)'}"
    if not capabilities.supported:
        raise RequestRefused(501, f"{what} is not supported by {by}")
    if options.stdin and not capabilities.stdin:
        raise RequestRefused(501, f"{what} with standard input (-i) is not supported by {by}")
    if tty and not capabilities.tty:
        raise RequestRefused(501, f"{what} with a terminal (tty) is not supported by {by}")


async def _started(start: OpenSession, what: str) -> ContainerSession:
    try:
        return await start()
    except ProviderError as error:
        raise refused_by_provider(error, what) from error


# -- exec and attach ----------------------------------------------------------------------------------------------


async def _remote_command(
    request: web.Request,
    *,
    what: Literal["exec", "attach"],
    options: remotecommand.Options,
    capabilities: StreamOptions,
    start: OpenSession,
) -> web.StreamResponse:
    def bridge(user: remotecommand.UserStreams, session: ContainerSession) -> Awaitable[None]:
        return remotecommand.bridge(
            user,
            session,
            options=options,
            what=what,
            resize=capabilities.resize,
            exit_status=capabilities.exit_status,
        )

    where = request.path
    if upgrade.is_websocket(request):
        chosen = upgrade.choose_websocket_protocol(request, list(REMOTECOMMAND_PROTOCOLS))
        log.info("%s over WebSocket %r: %s", what, chosen, where)
        session = await _started(start, what)
        try:
            ws = await upgrade.accept_websocket(request, chosen)
            readable = (remotecommand.STDIN, remotecommand.RESIZE)
            channels = ChannelConnection(ws, REMOTECOMMAND_PROTOCOLS[chosen], readable=readable)
            reader = asyncio.create_task(channels.run(), name=f"{what}-websocket")
            try:
                user = remotecommand.WebSocketStreams(channels, options)
                await user.start()
                await bridge(user, session)
            finally:
                await channels.close()
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        finally:
            session.close()
        return ws
    if upgrade.is_spdy(request):
        chosen = upgrade.choose_spdy_protocol(request, list(remotecommand.SPDY_PROTOCOLS))
        log.info("%s over SPDY %r: %s", what, chosen, where)
        session = await _started(start, what)
        try:
            streams = remotecommand.SpdyStreams(options, remotecommand.SPDY_PROTOCOLS[chosen])
            response, connection = await upgrade.accept_spdy(request, protocol=chosen, on_stream=streams.on_stream)
            streams.connection = connection
            if await streams.wait_ready():
                await bridge(streams, session)
            else:
                log.info("%s: the client did not open its streams in time; closing", what)
            connection.close()
        finally:
            session.close()
        return response
    raise RequestRefused(400, f"{what} needs a WebSocket or SPDY/3.1 upgrade request")


# -- port-forward -------------------------------------------------------------------------------------------------


async def _port_forward_tunnel(
    request: web.Request, *, connect: portforward.Connect, where: portforward.Target
) -> web.StreamResponse:
    ws = await upgrade.accept_websocket(request, portforward.TUNNEL_PROTOCOL)
    transport = upgrade.WebSocketTransport(ws)
    forward = portforward.SpdyPortForward(connect, where)
    connection = spdy.SpdyConnection(transport, forward.on_stream)
    try:
        await transport.run(connection)
    finally:
        await forward.close()
    return ws


async def _port_forward_channels(
    request: web.Request, *, protocol: str, ports: list[int], connect: portforward.Connect, where: portforward.Target
) -> web.StreamResponse:
    ws = await upgrade.accept_websocket(request, protocol)
    readable = [2 * index for index in range(len(ports))]
    channels = ChannelConnection(ws, PORT_FORWARD_PROTOCOLS[protocol], readable=readable)
    reader = asyncio.create_task(channels.run(), name="port-forward-websocket")
    try:
        await portforward.serve_websocket(channels, ports=ports, connect=connect, target=where)
    finally:
        await channels.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return ws


__all__ = ["handle_attach", "handle_exec", "handle_port_forward"]

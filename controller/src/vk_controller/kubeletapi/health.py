"""Health answers: ``/healthz`` (and ``/healthz/ping``, ``/log``, ``/syncloop``) on the kubelet API, behind its
filter like every path there; and a plain HTTP server (``--healthz-bind-address``:``--healthz-port``, loopback by
default) answering ``/healthz`` without authentication, for the controller's own liveness probe.

Both answer ``ok`` while the process serves requests: the provider's health is the Node's Ready condition, not a
reason to restart the controller.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from vk_controller.kubeletapi.responses import text

log = logging.getLogger(__name__)

HEALTHZ_PATHS = ("/healthz", "/healthz/ping", "/healthz/log", "/healthz/syncloop")


async def healthz(request: web.Request) -> web.Response:
    return text(200, "ok")


def health_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app


async def serve_health(host: str, port: int) -> None:
    """Serve the plain health endpoint until cancelled."""
    runner = web.AppRunner(health_app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("health endpoint on http://%s:%d/healthz", host, port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

"""Health answers: ``/healthz`` (and ``/healthz/ping``, ``/log``, ``/syncloop``) on the kubelet API, behind its
filter like every path there; and a plain HTTP server (``--healthz-bind-address``:``--healthz-port``, loopback by
default) answering ``/healthz`` without authentication, for the controller's own liveness probe.

Both answer ``ok`` while the process serves requests: the provider's health is the Node's Ready condition, not a
reason to restart the controller. The plain endpoint also reports each node the process serves, as named checks in
the API server's style (``[+]node/<name> ok``, listed with ``?verbose``): a node whose runtime failed, and is
being restarted on its own, fails its check and the endpoint answers 500 naming it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from aiohttp import web

from vk_controller.kubeletapi.responses import text

log = logging.getLogger(__name__)

HEALTHZ_PATHS = ("/healthz", "/healthz/ping", "/healthz/log", "/healthz/syncloop")


async def healthz(request: web.Request) -> web.Response:
    return text(200, "ok")


#: Named checks of the plain endpoint: each name and, when it fails, why (``None`` when it passes).
Checks = Callable[[], Mapping[str, str | None]]


def health_app(checks: Checks | None = None) -> web.Application:
    async def checked(request: web.Request) -> web.Response:
        results = checks() if checks is not None else {}
        failed = any(results.values())
        if not failed and "verbose" not in request.query:
            return text(200, "ok")
        lines = [f"[-]{name} failed: {why}" if why else f"[+]{name} ok" for name, why in results.items()]
        lines.append("healthz check failed" if failed else "healthz check passed")
        return text(500 if failed else 200, "\n".join(lines) + "\n")

    app = web.Application()
    app.router.add_get("/healthz", checked)
    return app


async def serve_health(host: str, port: int, checks: Checks | None = None) -> None:
    """Serve the plain health endpoint until cancelled."""
    runner = web.AppRunner(health_app(checks), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("health endpoint on http://%s:%d/healthz", host, port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()

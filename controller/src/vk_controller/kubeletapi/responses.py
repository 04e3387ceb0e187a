"""Plain-text answers, as the kubelet writes its errors: the API server shows the body to the user as the message."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

TEXT = "text/plain"


def text(status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=message,
        content_type=TEXT,
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def json_response(body: Any) -> web.Response:
    """JSON indented as the kubelet's go-restful writes it."""
    return web.Response(text=json.dumps(body, indent=2) + "\n", content_type="application/json")

"""A small synchronous JSON client for the harness's own set-up calls (namespaces, service accounts, ...).

The harness must not depend on the product's client: it is what the product is tested against. It speaks plain
HTTPS with a client certificate, which is all a set-up call needs.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class RestClient:
    def __init__(self, server: str, *, ca_path: Path, cert_path: Path, key_path: Path) -> None:
        self.server = server.rstrip("/")
        self._context = ssl.create_default_context(cafile=str(ca_path))
        self._context.load_cert_chain(str(cert_path), str(key_path))

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)  # noqa: S310
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode(errors="replace"), method, path) from error
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def create(self, path: str, body: dict[str, Any], *, exist_ok: bool = False) -> Any:
        try:
            return self.request("POST", path, body)
        except ApiError as error:
            if exist_ok and error.status == 409:
                return None
            raise

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def healthy(self, path: str = "/readyz") -> bool:
        request = urllib.request.Request(self.server + path)  # noqa: S310
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=5) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

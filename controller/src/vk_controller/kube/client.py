"""An asyncio client for the Kubernetes API that sends and returns the API's JSON as plain dicts.

One aiohttp session (one connection pool) per client. Requests carry either the client certificate in the TLS
context or a bearer token; a token file is re-read when its modification time changes. JSON goes through orjson:
every watch event and every answer is decoded here, and the standard library's decoder was the largest single
cost of a pod in the burst profile (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from vk_controller.kube.config import KubeConfig
from vk_controller.kube.errors import ApiError, TransportError, error_for

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

Params = Mapping[str, str | int | bool]


def _query(params: Params | None) -> dict[str, str]:
    if not params:
        return {}
    return {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()}


class _TokenSource:
    def __init__(self, token: str | None, token_file: Path | None) -> None:
        self._token = token
        self._file = token_file
        self._mtime: float | None = None

    def token(self) -> str | None:
        if self._file is None:
            return self._token
        mtime = self._file.stat().st_mtime
        if mtime != self._mtime:
            self._token = self._file.read_text().strip()
            self._mtime = mtime
        return self._token


class KubeClient:
    def __init__(self, config: KubeConfig, *, user_agent: str = "vk-controller", timeout: float = 30.0) -> None:
        self.config = config
        self._tokens = _TokenSource(config.token, config.token_file)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._user_agent = user_agent
        self._session = self._new_session(config)
        self._watches: set[aiohttp.ClientResponse] = set()

    def _new_session(self, config: KubeConfig) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=config.ssl_context(), limit=64)
        return aiohttp.ClientSession(
            base_url=config.server,
            connector=connector,
            headers={"User-Agent": self._user_agent, "Accept": JSON},
        )

    async def use_config(self, config: KubeConfig) -> None:
        """Send every later request with ``config``'s credentials (a renewed client certificate) and close the
        connections made with the old ones, as the kubelet does after a rotation: open watches end with a
        transport error and their owners reopen them with the new credentials. (Closing a session alone would
        leave its open watches waiting forever; each is closed by hand.)"""
        old, self._session = self._session, self._new_session(config)
        self.config = config
        self._tokens = _TokenSource(config.token, config.token_file)
        for response in list(self._watches):
            response.close()
        await old.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._session.close()

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        token = self._tokens.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> Any:
        """Send one request; return the decoded JSON answer or raise the classified :class:`ApiError`."""
        data = None if body is None else orjson.dumps(body)
        try:
            async with self._session.request(
                method,
                path,
                params=_query(params),
                data=data,
                headers=self._headers(content_type if data is not None else None),
                timeout=self._timeout,
                server_hostname=self.config.tls_server_name,
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise _answer_error(response, raw, method, path)
                return orjson.loads(raw) if raw else None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise TransportError(0, str(error) or type(error).__name__, method=method, path=path) from error

    async def get(self, path: str, *, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    async def create(self, path: str, body: Any, *, params: Params | None = None) -> Any:
        return await self.request("POST", path, body=body, params=params)

    async def replace(self, path: str, body: Any) -> Any:
        return await self.request("PUT", path, body=body)

    async def patch(self, path: str, body: Any, *, content_type: str = MERGE_PATCH) -> Any:
        return await self.request("PATCH", path, body=body, content_type=content_type)

    async def delete(self, path: str, *, grace_period_seconds: int | None = None, uid: str | None = None) -> Any:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if uid is not None:
            options["preconditions"] = {"uid": uid}
        return await self.request("DELETE", path, body=options)

    async def watch(self, path: str, *, params: Params | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield the watch events (``{"type": ..., "object": ...}``) of one watch request until it ends."""
        query = _query({**(params or {}), "watch": True})
        try:
            async with self._session.get(
                path,
                params=query,
                headers=self._headers(None),
                timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
                server_hostname=self.config.tls_server_name,
            ) as response:
                if response.status >= 400:
                    raise _answer_error(response, await response.read(), "GET", path)
                self._watches.add(response)
                try:
                    async for line in response.content:
                        if line.strip():
                            yield orjson.loads(line)
                finally:
                    self._watches.discard(response)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise TransportError(0, str(error) or type(error).__name__, method="WATCH", path=path) from error


def _answer_error(response: aiohttp.ClientResponse, raw: bytes, method: str, path: str) -> ApiError:
    try:
        body: Any = orjson.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    retry_after = response.headers.get("Retry-After")
    return error_for(
        response.status,
        body,
        method=method,
        path=path,
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )

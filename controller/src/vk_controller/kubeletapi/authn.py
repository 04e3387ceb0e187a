"""Who is calling: the kubelet's authenticators, in its order.

1. **x509**: a client certificate the TLS layer verified against ``--client-ca-file``; CN is the user, each O a group.
   (A certificate the client CA did not sign fails the TLS handshake: Python's ``ssl`` cannot request a
   certificate without verifying it, where the kubelet would fall through to the token.)
2. **Bearer token** in ``Authorization``, checked with a TokenReview as the node (cached 2 minutes, answers yes and
   no alike; failures to ask are not cached).
3. **The same token as a WebSocket subprotocol** ``base64url.bearer.authorization.k8s.io.<base64url>``, for
   browsers that cannot set headers. It needs another subprotocol beside it (one must be echoed back).

Every authenticated user gets the group ``system:authenticated``. Without credentials the request is anonymous
(``system:anonymous``, group ``system:unauthenticated``) if ``--anonymous-auth`` is on, else refused; credentials
that fail are refused either way (the kubelet never treats a bad token as anonymous).

The token subprotocol is always removed from what the handlers see (:func:`offered_subprotocols`), so it can never
be echoed back to the client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from vk_controller.kube import ApiError, KubeClient
from vk_controller.kubeletapi.cache import TTLCache

ANONYMOUS = "system:anonymous"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
TOKEN_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io."  # noqa: S105 - a protocol name, not a secret
TOKEN_CACHE_TTL = 120.0


_RAW_URL_BASE64 = re.compile(r"[A-Za-z0-9_-]*")
_UPGRADE = re.compile(r"(^|.*,\s*)upgrade($|\s*,)")


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def with_authenticated_group(self) -> User:
        if self.name == ANONYMOUS or AUTHENTICATED in self.groups or UNAUTHENTICATED in self.groups:
            return self
        return User(self.name, self.uid, (*self.groups, AUTHENTICATED), self.extra)


class AuthenticationFailed(Exception):
    """The request carried credentials that are not valid, or none while anonymous access is off (401)."""


def user_from_certificate(peercert: Mapping[str, Any] | None) -> User | None:
    """The user of a verified client certificate as ``ssl`` describes it (``getpeercert()``): CN and O."""
    if not peercert:
        return None
    names: list[str] = []
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.append(value)
            elif key == "organizationName":
                groups.append(value)
    if not names or not names[0]:
        return None
    return User(names[0], groups=tuple(groups))


def bearer_token(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization", "").strip()
    parts = value.split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


def is_websocket(headers: Mapping[str, str]) -> bool:
    return bool(_UPGRADE.match(headers.get("Connection", "").lower())) and (
        headers.get("Upgrade", "").lower() == "websocket"
    )


def _decode_token(encoded: str) -> str:
    """Go's base64.RawURLEncoding (no padding), then UTF-8."""
    if not _RAW_URL_BASE64.fullmatch(encoded) or len(encoded) % 4 == 1:
        raise AuthenticationFailed("invalid base64.bearer.authorization token encoding")
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise AuthenticationFailed("invalid base64.bearer.authorization token") from error


def split_subprotocols(values: list[str]) -> tuple[list[str], str | None]:
    """The offered subprotocols without the token one, and the token it carried (None if none).

    Raises :class:`AuthenticationFailed` for several token subprotocols or a token that does not decode.
    """
    others: list[str] = []
    token: str | None = None
    for value in values:
        for protocol in (p.strip() for p in value.split(",")):
            if not protocol.startswith(TOKEN_PROTOCOL_PREFIX):
                if protocol:
                    others.append(protocol)
                continue
            if token is not None:
                raise AuthenticationFailed("multiple base64.bearer.authorization tokens specified")
            token = _decode_token(protocol[len(TOKEN_PROTOCOL_PREFIX) :])
    return others, token


@dataclass(frozen=True)
class _Review:
    user: User | None


class TokenReviewer:
    """Bearer tokens checked by the API server (``TokenReview``), answers cached for ``ttl`` seconds."""

    def __init__(
        self, kube: KubeClient, *, ttl: float = TOKEN_CACHE_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._kube = kube
        self._ttl = ttl
        self._cache: TTLCache[str, _Review] = TTLCache(clock=clock)
        self.reviews = 0

    async def review(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached.user
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        try:
            answer = await self._kube.create("/apis/authentication.k8s.io/v1/tokenreviews", body)
        except ApiError as error:
            raise AuthenticationFailed(f"token review failed: {error}") from error
        self.reviews += 1
        status = (answer or {}).get("status") or {}
        user = None
        if status.get("authenticated"):
            info = status.get("user") or {}
            extra = {k: tuple(v or ()) for k, v in (info.get("extra") or {}).items()}
            user = User(info.get("username", ""), info.get("uid", ""), tuple(info.get("groups") or ()), extra)
        self._cache.put(key, _Review(user), self._ttl)
        return user


#: Request keys the middleware sets for the handlers: who called, and the subprotocols offered without the token
#: one (None: no ``Sec-WebSocket-Protocol`` header). The header the handlers see is rewritten the same way.
USER_KEY: web.RequestKey[User] = web.RequestKey("vk.user", User)
SUBPROTOCOLS_KEY: web.RequestKey[list[str] | None] = web.RequestKey("vk.websocket_subprotocols")


@dataclass(frozen=True)
class Authenticated:
    user: User
    #: The WebSocket subprotocols offered, without the token one; None when the header was absent.
    subprotocols: list[str] | None


class Authenticator:
    def __init__(self, tokens: TokenReviewer | None, *, anonymous: bool = False) -> None:
        self._tokens = tokens
        self._anonymous = anonymous

    async def authenticate(self, request: web.BaseRequest) -> Authenticated:
        headers = request.headers
        subprotocols: list[str] | None = None
        ws_token: str | None = None
        if "Sec-WebSocket-Protocol" in headers:
            subprotocols, ws_token = split_subprotocols(headers.getall("Sec-WebSocket-Protocol"))
            if not is_websocket(headers):
                ws_token = None
        transport = request.transport
        user = user_from_certificate(transport.get_extra_info("peercert") if transport is not None else None)
        if user is None:
            token = bearer_token(headers)
            if token is None and ws_token is not None:
                if not subprotocols:
                    raise AuthenticationFailed("missing additional subprotocol")
                token = ws_token
            if token is not None:
                user = await self._review(token)
        if user is None:
            if not self._anonymous:
                raise AuthenticationFailed("no credentials")
            return Authenticated(User(ANONYMOUS, groups=(UNAUTHENTICATED,)), subprotocols)
        return Authenticated(user.with_authenticated_group(), subprotocols)

    async def _review(self, token: str) -> User:
        if self._tokens is None:
            raise AuthenticationFailed("bearer tokens are not accepted")
        user = await self._tokens.review(token)
        if user is None:
            raise AuthenticationFailed("invalid bearer token")
        return user


def offered_subprotocols(request: web.BaseRequest) -> list[str]:
    """The WebSocket subprotocols the client offered, without the bearer-token one: what a handler may choose from."""
    chosen = request.get(SUBPROTOCOLS_KEY) if isinstance(request, web.Request) else None
    if chosen is not None:
        return list(chosen)
    others, _ = split_subprotocols(request.headers.getall("Sec-WebSocket-Protocol", []))
    return others


__all__ = [
    "ANONYMOUS",
    "AUTHENTICATED",
    "SUBPROTOCOLS_KEY",
    "UNAUTHENTICATED",
    "USER_KEY",
    "Authenticated",
    "AuthenticationFailed",
    "Authenticator",
    "TokenReviewer",
    "User",
    "bearer_token",
    "is_websocket",
    "offered_subprotocols",
    "split_subprotocols",
    "user_from_certificate",
]

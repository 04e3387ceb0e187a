"""Refusals of a streaming request before its upgrade: an HTTP status, a plain-text message (as the kubelet writes
it, and as the API server relays it to the user) and any extra headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vk_provider_sdk.errors import NotFound, ProviderError, ResourceExhausted, Unimplemented

_STATUS = {
    "FAILED_PRECONDITION": 400,
    "INVALID_ARGUMENT": 400,
    "PERMISSION_DENIED": 403,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


class RequestRefused(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str | Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: Mapping[str, str | Sequence[str]] = headers or {}


def refused_by_provider(error: ProviderError, what: str) -> RequestRefused:
    """The HTTP answer for a provider error that came before the session started, as the kubelet maps CRI errors:
    NOT_FOUND is 404, RESOURCE_EXHAUSTED is 429 with Retry-After; a capability the provider lacks is 501; a
    precondition the user can fix or a bad request is 400; anything else is 500 (or 403/503/504 where the code
    says so)."""
    if isinstance(error, NotFound):
        return RequestRefused(404, error.message)
    if isinstance(error, ResourceExhausted):
        retry_after = max(1, round(error.retry_after or 1))
        return RequestRefused(429, error.message, {"Retry-After": str(retry_after)})
    if isinstance(error, Unimplemented):
        return RequestRefused(501, f"{what} is not supported by this node's provider: {error.message}")
    return RequestRefused(_STATUS.get(error.code.name, 500), error.message)


__all__ = ["RequestRefused", "refused_by_provider"]

"""Errors classified by what the caller should do, with the API server's Status message kept.

4xx answers are the caller's problem and are mostly final (``Conflict`` and ``TooManyRequests`` excepted); 5xx
answers and transport failures are worth retrying. The underlying aiohttp error, if any, is chained.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """The API server answered with an error status. ``status`` is the HTTP code, ``reason`` the Status reason."""

    retryable = False

    def __init__(self, status: int, message: str, *, reason: str = "", method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path}: {status} {reason}: {message}".strip())
        self.status = status
        self.message = message
        self.reason = reason
        self.method = method
        self.path = path


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """A resourceVersion or UID precondition failed, or the object already exists: re-read and decide again."""

    retryable = True


class Gone(ApiError):
    """The resourceVersion a watch asked for has been compacted away: relist."""


class Invalid(ApiError):
    pass


class TooManyRequests(ApiError):
    retryable = True

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    retryable = True


class TransportError(ApiError):
    """No answer: connection refused or reset, TLS failure, timeout."""

    retryable = True


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def error_for(status: int, body: Any, *, method: str, path: str, retry_after: float | None = None) -> ApiError:
    """The error for an HTTP answer; ``body`` is the decoded Status object when the server sent one."""
    message = reason = ""
    if isinstance(body, dict):
        message = str(body.get("message", ""))
        reason = str(body.get("reason", ""))
    elif body:
        message = str(body)[:1000]
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    if cls is TooManyRequests:
        return TooManyRequests(status, message, reason=reason, method=method, path=path, retry_after=retry_after)
    return cls(status, message, reason=reason, method=method, path=path)

"""The protocol's error contract as Python exceptions, for both ends of the wire.

A provider raises one of these from its code; the SDK's server turns it into the gRPC status code the protocol
assigns to that meaning, with a ``google.rpc.ErrorInfo`` (the reason a user will search for) and, when given, a
``google.rpc.RetryInfo``. The controller turns any ``grpc.RpcError`` back into the same classes with
:func:`from_rpc_error`, so both sides reason about behaviour (terminal for the pod? retry? unsupported?) rather
than about codes. The table lives in ``proto/virtualkubelet/provider/v1/provider.proto``.
"""

from __future__ import annotations

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


class ProviderError(Exception):
    """Base class. ``reason`` is a CamelCase word for pod status and Event reasons; ``message`` is for people."""

    code = grpc.StatusCode.UNKNOWN
    #: The pod can never run as specified (or the backend refused it for good): fail it, do not retry.
    terminal_for_pod = False
    #: Worth retrying with backoff when the controller made the call on its own.
    retryable = True
    default_reason = "ProviderError"

    def __init__(self, message: str, *, reason: str = "", retry_after: float | None = None, domain: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.retry_after = retry_after
        self.domain = domain

    def __str__(self) -> str:
        return self.message


class InvalidPod(ProviderError):
    """INVALID_ARGUMENT: the pod can never run here as specified; the message names the field and why."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    terminal_for_pod = True
    retryable = False
    default_reason = "ProviderRejected"


class PermissionDenied(ProviderError):
    """PERMISSION_DENIED: the backend refused (credentials, policy, registry authorisation)."""

    code = grpc.StatusCode.PERMISSION_DENIED
    terminal_for_pod = True
    retryable = False
    default_reason = "PermissionDenied"


class NotReady(ProviderError):
    """FAILED_PRECONDITION: not possible now (e.g. exec into a container that is not running)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    default_reason = "NotReady"


class NotFound(ProviderError):
    """NOT_FOUND: unknown pod UID or container name."""

    code = grpc.StatusCode.NOT_FOUND
    retryable = False
    default_reason = "NotFound"


class Unavailable(ProviderError):
    """UNAVAILABLE: transient; retry with backoff."""

    code = grpc.StatusCode.UNAVAILABLE
    default_reason = "ProviderUnavailable"


class ResourceExhausted(ProviderError):
    """RESOURCE_EXHAUSTED: quota or throttling; back off longer (``retry_after`` when the backend says)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_reason = "QuotaExceeded"


class DeadlineExceeded(ProviderError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_reason = "ProviderTimeout"


class Unimplemented(ProviderError):
    """UNIMPLEMENTED: the capability is absent; tell the user it is not supported by this provider."""

    code = grpc.StatusCode.UNIMPLEMENTED
    retryable = False
    default_reason = "NotSupported"


class Unauthenticated(ProviderError):
    code = grpc.StatusCode.UNAUTHENTICATED
    retryable = False
    default_reason = "Unauthenticated"


class Aborted(ProviderError):
    code = grpc.StatusCode.ABORTED
    default_reason = "Conflict"


class Internal(ProviderError):
    code = grpc.StatusCode.INTERNAL
    default_reason = "ProviderInternalError"


class Cancelled(ProviderError):
    code = grpc.StatusCode.CANCELLED
    default_reason = "Cancelled"


_BY_CODE: dict[grpc.StatusCode, type[ProviderError]] = {
    cls.code: cls
    for cls in (
        InvalidPod,
        PermissionDenied,
        NotReady,
        NotFound,
        Unavailable,
        ResourceExhausted,
        DeadlineExceeded,
        Unimplemented,
        Unauthenticated,
        Aborted,
        Internal,
        Cancelled,
    )
}


def to_status(error: ProviderError) -> grpc.Status:
    """The gRPC status (code, message, ErrorInfo and RetryInfo details) that carries ``error`` on the wire."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=error.domain)
    details = [info]
    if error.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    status = status_pb2.Status(code=error.code.value[0], message=error.message)
    for detail in details:
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def from_rpc_error(error: grpc.RpcError) -> ProviderError:
    """The :class:`ProviderError` for a failed call, with reason and retry delay read from its details."""
    code: grpc.StatusCode = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else "") or ""
    reason = domain = ""
    retry_after: float | None = None
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:
        status = None
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, domain = info.reason, info.domain
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after = retry.retry_delay.ToNanoseconds() / 1e9
    cls = _BY_CODE.get(code, ProviderError)
    return cls(message or code.name, reason=reason, retry_after=retry_after, domain=domain)


__all__ = [
    "Aborted",
    "Cancelled",
    "DeadlineExceeded",
    "Internal",
    "InvalidPod",
    "NotFound",
    "NotReady",
    "PermissionDenied",
    "ProviderError",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "from_rpc_error",
    "to_status",
]

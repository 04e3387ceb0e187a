"""The AWS side: boto3 clients for ECS, CloudWatch Logs and Secrets Manager, called off the event loop, errors
classified.

- **Clients** come from one boto3 session, so credentials follow the standard AWS chain; ``--endpoint-url`` only
  changes where requests go (tests run against moto server through it; the code path is production's).
- **Retries** are botocore's ``adaptive`` mode (exponential backoff with jitter plus a client-side rate limiter
  that slows down after throttling), 8 attempts, so throttling and transient 5xx errors are retried before the
  provider sees them.
- **Every call runs in a worker thread** (boto3 is synchronous); the provider's event loop never blocks on AWS.
- **Errors** become the protocol's classes (:func:`classify`): access denied → PERMISSION_DENIED (the pod fails
  with the reason), validation errors → INVALID_ARGUMENT, throttling and limits → RESOURCE_EXHAUSTED, anything
  network or 5xx → UNAVAILABLE. Messages name the action and AWS's error code and message, which never contain
  values this provider treats as secret (those travel only in Secrets Manager's SecretString, which AWS never
  echoes; see :mod:`secretstore`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from vk_provider_fargate.config import FargateConfig
from vk_provider_sdk import errors

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_logs import CloudWatchLogsClient

T = TypeVar("T")

RETRY_CONFIG = botocore.config.Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=20,
    user_agent_extra="vk-provider-fargate",
)
_DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnrecognizedClientException"}
_EXPIRED = {"ExpiredTokenException", "InvalidClientTokenId", "InvalidSignatureException"}
_INVALID = {"InvalidParameterException", "ClientException", "ValidationException", "InvalidParameterValueException"}
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "LimitExceededException"}
_UNAVAILABLE = {"ServerException", "ServiceUnavailableException", "InternalFailure", "RequestTimeout"}


class Clients:
    """The ECS, CloudWatch Logs and Secrets Manager clients of one provider."""

    def __init__(self, config: FargateConfig) -> None:
        session = boto3.session.Session(region_name=config.region)
        self.ecs: ECSClient = session.client("ecs", endpoint_url=config.endpoint_url, config=RETRY_CONFIG)
        self.logs: CloudWatchLogsClient = session.client("logs", endpoint_url=config.endpoint_url, config=RETRY_CONFIG)
        #: Untyped: the workspace's boto3-stubs do not include the secretsmanager extra.
        self.secrets: Any = session.client("secretsmanager", endpoint_url=config.endpoint_url, config=RETRY_CONFIG)


async def call(action: str, function: Callable[..., T], /, **kwargs: Any) -> T:
    """``function(**kwargs)`` in a worker thread; AWS errors raised as :class:`errors.ProviderError`."""
    try:
        return await asyncio.to_thread(functools.partial(function, **kwargs))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise classify(error, action) from error


def error_code(error: BaseException) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def classify(error: BaseException, action: str) -> errors.ProviderError:
    """The protocol error for a failed AWS call."""
    if isinstance(error, botocore.exceptions.ClientError):
        code = error_code(error)
        text = str(error.response.get("Error", {}).get("Message", "")) or str(error)
        message = f"{action}: AWS answered {code}: {text}"
        if code in _DENIED:
            return errors.PermissionDenied(message, reason="AccessDenied")
        if code in _EXPIRED:
            return errors.Unavailable(message, reason="CredentialsExpired")
        if code in _INVALID:
            return errors.InvalidPod(message, reason="BackendRejected")
        if code in _THROTTLED:
            return errors.ResourceExhausted(message, reason="Throttled", retry_after=5.0)
        if code in _UNAVAILABLE or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            return errors.Unavailable(message, reason="BackendUnavailable")
        return errors.ProviderError(message, reason=code or "BackendError")
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return errors.Unavailable(f"{action}: no AWS credentials found in the standard chain", reason="NoCredentials")
    return errors.Unavailable(f"{action}: {error}", reason="BackendUnreachable")


__all__ = ["RETRY_CONFIG", "Clients", "call", "classify", "error_code"]

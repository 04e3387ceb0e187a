"""The only module that talks to Azure: credentials, the ARM client and the translation of its errors.

- **Credentials** are azure-identity's: ``EnvironmentCredential`` when ``AZURE_CLIENT_SECRET`` (or a certificate)
  is configured, otherwise ``DefaultAzureCredential`` (workload identity, managed identity, the Azure CLI, ...).
  ``AZURE_AUTHORITY_HOST`` points them at another Microsoft Entra endpoint (sovereign clouds; the tests' stand-in).
- **Retries** are azure-core's: 429 and 5xx answers are retried with exponential backoff, honouring
  ``Retry-After``; only what is left after that reaches :func:`translate`.
- **Errors** become the protocol's: 400 → InvalidPod with ARM's code as the reason (the pod can never run so),
  403 → PermissionDenied, 404 → NotFound, 409 → Aborted, 429 → ResourceExhausted (with Retry-After), 5xx, token
  and connection failures → Unavailable. Messages carry ARM's code and message, never a request body.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity.aio import DefaultAzureCredential, EnvironmentCredential
from azure.mgmt.containerinstance.aio import ContainerInstanceManagementClient

from vk_provider_aci.config import AciConfig
from vk_provider_sdk import errors

#: Seconds between two polls of a long-running operation when ARM sends no Retry-After.
LRO_POLLING_INTERVAL = 1.0


def credential(config: AciConfig) -> AsyncTokenCredential:
    """The azure-identity credential for ARM (see the module docstring)."""
    kwargs: dict[str, Any] = {}
    if config.ca_bundle:
        kwargs["connection_verify"] = config.ca_bundle
    if os.environ.get("AZURE_CLIENT_SECRET") or os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        return EnvironmentCredential(**kwargs)
    return DefaultAzureCredential(**kwargs)


def client(config: AciConfig, token_credential: AsyncTokenCredential) -> ContainerInstanceManagementClient:
    # azure-core logs every request and response header at INFO; keep the provider's log about pods.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    kwargs: dict[str, Any] = {
        "polling_interval": LRO_POLLING_INTERVAL,
        "retry_total": 5,
        "retry_backoff_factor": 0.5,
        "retry_backoff_max": 30,
    }
    if config.ca_bundle:
        kwargs["connection_verify"] = config.ca_bundle
    return ContainerInstanceManagementClient(
        token_credential, config.subscription_id, base_url=config.endpoint_url, **kwargs
    )


def error_code(error: HttpResponseError) -> tuple[str, str]:
    """ARM's error code and message (``{"error": {"code", "message"}}``), with fallbacks."""
    body = getattr(error, "error", None)
    code = str(getattr(body, "code", "") or "") or (error.reason or "").replace(" ", "")
    message = str(getattr(body, "message", "") or "") or error.message or ""
    return code or f"Http{error.status_code}", message.strip()


def translate(operation: str, error: AzureError) -> errors.ProviderError:
    """The protocol error for a failed ARM call."""
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        code, message = error_code(error)
        text = f"{operation}: {code}: {message}"
        status = int(error.status_code)
        if status == 400:
            return errors.InvalidPod(text, reason=code, domain="aci")
        if status == 403:
            return errors.PermissionDenied(text, reason=code, domain="aci")
        if status == 404:
            return errors.NotFound(text, reason=code, domain="aci")
        if status == 409:
            return errors.Aborted(text, reason=code, domain="aci")
        if status == 429:
            retry = _retry_after(error)
            return errors.ResourceExhausted(text, reason=code, retry_after=retry, domain="aci")
        return errors.Unavailable(text, reason=code, domain="aci")
    if isinstance(error, ClientAuthenticationError):
        return errors.Unavailable(f"{operation}: Azure authentication failed: {error.message}", reason="AzureAuth")
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return errors.Unavailable(f"{operation}: Azure is unreachable: {error.message}", reason="AzureUnreachable")
    return errors.Unavailable(f"{operation}: {error.message}", reason="AzureError")


def _retry_after(error: HttpResponseError) -> float | None:
    response = error.response
    if response is None:
        return None
    value = getattr(response, "headers", {}).get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


__all__ = ["LRO_POLLING_INTERVAL", "client", "credential", "error_code", "translate"]

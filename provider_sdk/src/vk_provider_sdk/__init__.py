"""The server plumbing every Python provider shares.

A provider subclasses :class:`Provider`, publishes pod status to ``self.pods`` (a :class:`StatusHub`) and calls
:func:`run` from its ``__main__``; the SDK serves the protocol over gRPC (``server.py``), maps errors
(``errors.py``), runs exec/attach/port-forward sessions (``sessions.py``) and applies log options (``logs.py``).
"""

from vk_provider_sdk import errors, logs
from vk_provider_sdk.cli import run
from vk_provider_sdk.provider import PROTOCOL_MAJOR, PROTOCOL_MINOR, Provider, ProviderInfo
from vk_provider_sdk.server import ProviderServer, TLSFiles, serve
from vk_provider_sdk.sessions import AttachSession, ExecSession, PortForwardConnection, exit_status
from vk_provider_sdk.statushub import StatusHub, Subscription

__all__ = [
    "PROTOCOL_MAJOR",
    "PROTOCOL_MINOR",
    "AttachSession",
    "ExecSession",
    "PortForwardConnection",
    "Provider",
    "ProviderInfo",
    "ProviderServer",
    "StatusHub",
    "Subscription",
    "TLSFiles",
    "errors",
    "exit_status",
    "logs",
    "run",
    "serve",
]

"""The only package of the controller that talks to the Kubernetes API server.

It speaks the API's JSON over aiohttp and hands plain ``dict`` objects to the rest of the controller. The official
``kubernetes`` client is not used here: importing it adds about 20 MB of resident memory and its generated model
classes cost 2-3x the CPU of handling the JSON directly (see ARCHITECTURE.md).
"""

from vk_controller.kube.client import KubeClient
from vk_controller.kube.config import KubeConfig, load_config
from vk_controller.kube.errors import (
    ApiError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    TooManyRequests,
    TransportError,
    Unauthorized,
)

__all__ = [
    "ApiError",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeClient",
    "KubeConfig",
    "NotFound",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "load_config",
]

"""What the kubelet API handlers need from the rest of the controller: a narrow, read-only view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vk_controller.provider.capabilities import Capabilities
from vk_controller.provider.client import ProviderClient
from vk_controller.provider.records import RunningPod

Json = dict[str, Any]


@dataclass(frozen=True)
class KubeletContext:
    node_name: str
    #: The pod bound to this node with that namespace and name, as the pod watch last saw it; None if unknown.
    pod: Callable[[str, str], Json | None]
    #: Every pod bound to this node.
    pods: Callable[[], list[Json]]
    #: The provider's channel; the adapters in ``vk_controller.provider`` wrap its streaming calls.
    provider: ProviderClient
    #: What the provider declared in its latest handshake.
    capabilities: Callable[[], Capabilities]
    #: The provider's name, for messages users see ("not supported by provider 'aci'").
    provider_name: str = ""
    #: The pods the provider reports running containers for, as its status stream last said.
    running_pods: Callable[[], list[RunningPod]] = list

"""What the provider says the Node should look like, in the API's JSON shapes (no protobuf here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class NodeTemplate:
    provider_name: str
    provider_version: str
    capacity: dict[str, str]
    allocatable: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    taints: list[Json] = field(default_factory=list)
    conditions: list[Json] = field(default_factory=list)
    addresses: list[Json] = field(default_factory=list)
    node_info: dict[str, str] = field(default_factory=dict)
    zone: str = ""
    region: str = ""

"""What a registered task definition says about the pod it runs: containers in spec order and the restart policy.

The provider reads it from the task definition, not from memory, so that a restarted provider knows the pods it
adopts exactly as well as those it created (see :mod:`taskdef` for how pods are written into task definitions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vk_provider_fargate.taskdef import FILES_CONTAINER


@dataclass(frozen=True)
class Layout:
    #: (name, image, sidecar) of init containers, in order.
    init_containers: tuple[tuple[str, str, bool], ...]
    #: (name, image) of regular containers, in order.
    containers: tuple[tuple[str, str], ...]
    #: Always, OnFailure or Never.
    restart_policy: str

    def has_container(self, name: str) -> bool:
        return any(c[0] == name for c in self.init_containers) or any(c[0] == name for c in self.containers)


def from_definitions(definitions: Sequence[Mapping[str, Any]]) -> Layout:
    init: list[tuple[str, str, bool]] = []
    regular: list[tuple[str, str]] = []
    policy = "Never"
    for definition in definitions:
        name, image = str(definition.get("name", "")), str(definition.get("image", ""))
        restart = definition.get("restartPolicy") or {}
        if name == FILES_CONTAINER:
            continue
        if definition.get("essential", True):
            regular.append((name, image))
            if restart.get("enabled"):
                policy = "OnFailure" if list(restart.get("ignoredExitCodes") or []) == [0] else "Always"
        else:
            init.append((name, image, bool(restart.get("enabled"))))
    return Layout(tuple(init), tuple(regular), policy)


__all__ = ["Layout", "from_definitions"]

"""Pod spec that no virtual node can honour, refused with the field and the reason instead of silently dropped.

A virtual node has no host: nothing can share its network, PID or IPC namespaces, mount its paths, bind its ports
or run privileged on it. Running such a pod anyway would change what it means, so it fails at once with reason
``UnsupportedPodSpec`` and a message naming every offending field. Providers refuse what their backend cannot run
on top of this (with INVALID_ARGUMENT).
"""

from __future__ import annotations

from typing import Any

REASON = "UnsupportedPodSpec"


def _container_problems(kind: str, containers: list[dict[str, Any]]) -> list[str]:
    problems = []
    for index, container in enumerate(containers):
        where = f"spec.{kind}[{index}]"
        if (container.get("securityContext") or {}).get("privileged"):
            problems.append(f"{where}.securityContext.privileged: privileged containers cannot run on a virtual node")
        for port_index, port in enumerate(container.get("ports") or []):
            if port.get("hostPort"):
                problems.append(f"{where}.ports[{port_index}].hostPort: a virtual node has no host ports to bind")
    return problems


def problems(spec: dict[str, Any]) -> list[str]:
    """Every reason this pod cannot run on a virtual node, each naming its field; empty when it can."""
    found = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"spec.{field}: a virtual node has no host namespaces to share")
    for kind in ("initContainers", "containers"):
        found += _container_problems(kind, spec.get(kind) or [])
    for index, volume in enumerate(spec.get("volumes") or []):
        if "hostPath" in volume:
            found.append(f"spec.volumes[{index}].hostPath: a virtual node has no host filesystem to mount")
    return found


def message(found: list[str]) -> str:
    return "Pod cannot run on a virtual node: " + "; ".join(found)

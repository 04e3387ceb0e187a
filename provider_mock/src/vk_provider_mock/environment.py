"""A container's environment and argv as its processes see them: runtime values substituted, ``$(VAR)`` expanded.

The controller resolves every env source except the values only a running pod knows (docs/protocol.md). The mock
knows the pod IP (it allocates it), so it substitutes ``status.podIP`` and ``status.podIPs``; it has no host, so
``status.hostIP``/``hostIPs`` are refused at CreatePod (see ``validation.py``). When ``runtime_expansion`` is set,
command, args and env values are expanded with the Kubernetes rules: ``$$`` is ``$``, ``$(NAME)`` is the runtime
value of NAME if NAME is a runtime variable of the container, anything else stays as written.

The environment also has ``HOSTNAME`` (the pod's hostname, as Kubernetes sets it) and ``PATH`` (as an image would)
before the container's own variables, which may override them.
"""

from __future__ import annotations

from virtualkubelet.provider.v1 import container_pb2, pod_pb2
from vk_provider_mock.shell import DEFAULT_PATH


def runtime_values(container: container_pb2.Container, pod_ip: str) -> dict[str, str]:
    """The container's runtime env variables and their values for this pod."""
    values: dict[str, str] = {}
    for var in container.env:
        pod_ips = (container_pb2.RUNTIME_VALUE_POD_IP, container_pb2.RUNTIME_VALUE_POD_IPS)
        if var.WhichOneof("source") == "runtime_value" and var.runtime_value in pod_ips:
            values[var.name] = pod_ip
    return values


def expand(text: str, values: dict[str, str]) -> str:
    """Kubernetes ``$(NAME)`` expansion with only the runtime variables (everything else is already expanded)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i):
            end = text.find(")", i + 2)
            name = text[i + 2 : end] if end >= 0 else None
            if name is not None and name in values:
                out.append(values[name])
                i = end + 1
            else:
                out.append("$(")
                i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def env(pod: pod_pb2.Pod, container: container_pb2.Container, pod_ip: str) -> dict[str, str]:
    """The container's final environment, in order (later entries with the same name win)."""
    values = runtime_values(container, pod_ip)
    result = {"PATH": DEFAULT_PATH, "HOSTNAME": pod.hostname or pod.metadata.name}
    for var in container.env:
        if var.WhichOneof("source") == "runtime_value":
            value = values.get(var.name, "")
        else:
            value = var.value
            if container.runtime_expansion:
                value = expand(value, values)
        result[var.name] = value
    return result


def argv(container: container_pb2.Container, pod_ip: str) -> list[str]:
    """The container's command followed by its args, expanded if the container asks for runtime expansion."""
    words = [*container.command, *container.args]
    if container.runtime_expansion:
        values = runtime_values(container, pod_ip)
        words = [expand(word, values) for word in words]
    return words


__all__ = ["argv", "env", "expand", "runtime_values"]

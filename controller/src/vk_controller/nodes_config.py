"""``--nodes-config``: several virtual nodes from one controller process.

The file (YAML, or JSON, which is YAML too) lists the nodes under ``nodes``; each entry sets per-node flags by
their names without the dashes, and every flag given on the command line (or as ``VK_*``) is the default of every
entry::

    nodes:
      - nodename: aci-westeurope
        provider-address: 127.0.0.1:50051
        kubeconfig: /etc/vk/aci-westeurope.kubeconfig
        kubelet-port: 10250
        node-labels: {topology.kubernetes.io/region: westeurope}
      - nodename: fargate-eu-west-1
        provider-address: unix:/run/vk-fargate.sock
        kubeconfig: /etc/vk/fargate-eu-west-1.kubeconfig
        kubelet-port: 10251

An entry's values go through the same parser as the flags (``node-labels`` and ``cluster-dns`` may also be a
mapping and a list), so they are checked the same way. Flags of the process rather than of a node (logging, the
health and metrics endpoints, the shutdown timeout) are refused in an entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

#: Flags that configure the process, not one node: command line only.
PROCESS_FLAGS = frozenset(
    {
        "nodes-config",
        "log-level",
        "log-format",
        "healthz-port",
        "healthz-bind-address",
        "metrics-port",
        "metrics-bind-address",
        "shutdown-timeout",
        "help",
    }
)


class NodesConfigError(Exception):
    """The nodes file cannot be used; the message names the file, the entry and the key."""


def read(path: Path) -> list[dict[str, Any]]:
    """The entries of the nodes file, each a mapping of flag name to value."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise NodesConfigError(f"cannot read nodes config {path}: {error}") from error
    nodes = document.get("nodes") if isinstance(document, dict) else None
    if not isinstance(nodes, list) or not nodes:
        raise NodesConfigError(f"{path}: expected a non-empty list under 'nodes'")
    for index, entry in enumerate(nodes):
        if not isinstance(entry, dict) or not all(isinstance(key, str) for key in entry):
            raise NodesConfigError(f"{path}: nodes[{index}] is not a mapping of flag names to values")
    return nodes


def entry_argv(entry: Mapping[str, Any], *, flags: Sequence[str], where: str) -> list[str]:
    """``entry`` as command-line arguments, for the controller's own parser; ``flags`` are the known flag names."""
    argv = []
    for key, value in entry.items():
        if key in PROCESS_FLAGS:
            raise NodesConfigError(f"{where}: {key!r} configures the process; give it on the command line")
        if key not in flags:
            raise NodesConfigError(f"{where}: unknown flag {key!r}")
        argv.append(f"--{key}={_text(value, where=f'{where}: {key}')}")
    return argv


def _text(value: Any, *, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, Mapping):
        return ",".join(f"{key}={item}" for key, item in value.items())
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    raise NodesConfigError(f"{where}: cannot use a {type(value).__name__} as a flag value")

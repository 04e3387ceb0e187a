"""A test host of the test's own: a network namespace joined to the root namespace by a veth pair.

Some paths cannot be exercised on loopback: the API server's node proxy (``/api/v1/nodes/<node>/proxy/...``)
refuses loopback addresses. :func:`network_namespace` makes a namespace and a veth pair with a private /30 from
``10.213.0.0/16`` (the first address on the root namespace's end, the second inside), and removes both at exit, on
failure too. Traffic between the two ends stays on the pair; nothing is routed anywhere else.

It needs root and iproute2's ``ip``: :func:`unavailable_reason` says why it cannot run here, for a test to skip.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: The range the /30s come from; each namespace takes ``10.213.<n>.0/30`` for a ``<n>`` no address or route uses.
POOL = ipaddress.ip_network("10.213.0.0/16")

_counter = itertools.count(1)


class NetworkNamespaceError(RuntimeError):
    pass


@dataclass(frozen=True)
class NetworkNamespace:
    name: str
    #: The veth end in the root namespace, with :attr:`host_address`.
    host_interface: str
    #: The veth end inside the namespace, with :attr:`namespace_address`.
    namespace_interface: str
    host_address: str
    namespace_address: str

    @property
    def exec_prefix(self) -> tuple[str, ...]:
        """Prepend to an argv to run it inside the namespace."""
        return (_ip(), "netns", "exec", self.name)


def unavailable_reason() -> str | None:
    """Why :func:`network_namespace` cannot work here (not root, no ``ip``), or None."""
    if os.geteuid() != 0:
        return "creating a network namespace and a veth pair needs root"
    if shutil.which("ip") is None:
        return "creating a network namespace and a veth pair needs iproute2's ip"
    return None


def _ip() -> str:
    path = shutil.which("ip")
    if path is None:
        raise NetworkNamespaceError("iproute2's ip is not installed")
    return path


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([_ip(), *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise NetworkNamespaceError(f"ip {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _networks_in_use() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network an address or a route of the root namespace covers (the default route aside)."""
    used: list[ipaddress.IPv4Network] = []
    addresses: list[dict[str, Any]] = json.loads(_run("-j", "-4", "addr", "show").stdout or "[]")
    for link in addresses:
        for info in link.get("addr_info", []):
            network = ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False)
            assert isinstance(network, ipaddress.IPv4Network)
            used.append(network)
    routes: list[dict[str, Any]] = json.loads(_run("-j", "-4", "route", "show", "table", "all").stdout or "[]")
    for route in routes:
        destination = route.get("dst", "default")
        if destination != "default":
            network = ipaddress.ip_network(destination, strict=False)
            assert isinstance(network, ipaddress.IPv4Network)
            used.append(network)
    return used


def _free_subnet(start: int) -> ipaddress.IPv4Network:
    used = _networks_in_use()
    for offset in range(256):
        candidate = ipaddress.ip_network(f"10.213.{(start + offset) % 256}.0/30")
        assert isinstance(candidate, ipaddress.IPv4Network)
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise NetworkNamespaceError(f"every /30 of the form 10.213.<n>.0/30 in {POOL} is in use")


@contextlib.contextmanager
def network_namespace() -> Iterator[NetworkNamespace]:
    """A fresh namespace ``vk-<pid>-<n>`` with its ``lo`` up, joined by a veth pair (both ends up) to the root
    namespace; all of it removed at exit, along with any process still running inside it."""
    reason = unavailable_reason()
    if reason is not None:
        raise NetworkNamespaceError(reason)
    pid, number = os.getpid(), next(_counter)
    subnet = _free_subnet(pid + number)
    host_address, namespace_address = (str(address) for address in subnet.hosts())
    namespace = NetworkNamespace(
        name=f"vk-{pid}-{number}",
        host_interface=f"vk{pid}-{number}h",
        namespace_interface=f"vk{pid}-{number}n",
        host_address=host_address,
        namespace_address=namespace_address,
    )
    _run("netns", "add", namespace.name)
    try:
        _run(
            "link", "add", namespace.host_interface, "type", "veth",
            "peer", "name", namespace.namespace_interface, "netns", namespace.name,
        )  # fmt: skip
        _run("addr", "add", f"{host_address}/{subnet.prefixlen}", "dev", namespace.host_interface)
        _run("link", "set", namespace.host_interface, "up")
        inside = ("-n", namespace.name)
        _run(*inside, "addr", "add", f"{namespace_address}/{subnet.prefixlen}", "dev", namespace.namespace_interface)
        _run(*inside, "link", "set", namespace.namespace_interface, "up")
        _run(*inside, "link", "set", "lo", "up")
        yield namespace
    finally:
        _remove(namespace)


def _remove(namespace: NetworkNamespace) -> None:
    # Processes the test started inside keep the namespace (and the veth end in it) alive: end them first, by id.
    pids = _run("netns", "pids", namespace.name, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    # Deleting either end of a veth pair deletes both.
    if _run("link", "show", namespace.host_interface, check=False).returncode == 0:
        _run("link", "del", namespace.host_interface)
    _run("netns", "del", namespace.name)

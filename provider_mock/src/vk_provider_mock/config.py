"""vk-provider-mock's own flags (the common ones come from the SDK's CLI).

- ``--name`` (default ``mock``): the provider name (a DNS label) in the handshake, the Node taint and Events.
- ``--capacity`` (default ``cpu=100,memory=512Gi,pods=1000``): the Node's capacity as ``resource=quantity``
  pairs; given keys replace the defaults, others stay. ``pods`` is always present. Allocatable equals capacity.
- ``--node-label key=value`` (repeatable, or comma-separated) and ``--node-taint key[=value]:Effect`` (repeatable;
  Effect is NoSchedule, PreferNoSchedule or NoExecute): labels and taints the provider asks for on the Node.
- ``--zone``, ``--region``: the Node's topology.
- ``--state-file PATH``: keep pods in that JSON file and resume them on start (see ``state.py``).
- ``--pod-cidr`` (default ``10.244.0.0/16``): where fake pod IPs come from (see ``ipam.py``).
- ``--stop-delay DURATION``: the default of the ``stop-delay`` annotation (how long processes take to exit after
  SIGTERM); unset by default, so processes are killed when the grace period ends.
- ``--protocol-version MAJOR.MINOR`` (a testing aid; default the SDK's): the protocol version to answer in Handshake,
  so that controllers can be tested against providers of another minor or major.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path

from virtualkubelet.provider.v1 import node_pb2
from vk_provider_mock.behaviour import parse_duration
from vk_provider_mock.ipam import DEFAULT_POD_CIDR, AddressPool
from vk_provider_sdk.capacity import parse_capacity as sdk_parse_capacity
from vk_provider_sdk.provider import PROTOCOL_MAJOR, PROTOCOL_MINOR

DEFAULT_CAPACITY = {"cpu": "100", "memory": "512Gi", "pods": "1000"}
_EFFECTS = {
    "NoSchedule": node_pb2.TAINT_EFFECT_NO_SCHEDULE,
    "PreferNoSchedule": node_pb2.TAINT_EFFECT_PREFER_NO_SCHEDULE,
    "NoExecute": node_pb2.TAINT_EFFECT_NO_EXECUTE,
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class MockConfig:
    name: str = "mock"
    capacity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    labels: dict[str, str] = field(default_factory=dict)
    #: (key, value, effect name) per taint.
    taints: tuple[tuple[str, str, str], ...] = ()
    zone: str = ""
    region: str = ""
    state_file: Path | None = None
    pod_cidr: str = DEFAULT_POD_CIDR
    stop_delay: float | None = None
    protocol_version: tuple[int, int] = (PROTOCOL_MAJOR, PROTOCOL_MINOR)

    def node(self) -> node_pb2.Node:
        return node_pb2.Node(
            capacity=self.capacity,
            allocatable=self.capacity,
            labels=self.labels,
            taints=[node_pb2.Taint(key=k, value=v, effect=_EFFECTS[e]) for k, v, e in self.taints],
            system_info=node_pb2.NodeSystemInfo(
                operating_system="linux",
                architecture="amd64",
                os_image="vk-provider-mock (simulated; runs nothing)",
                container_runtime_version="mock://1.0",
            ),
            zone=self.zone,
            region=self.region,
        )


def parse_capacity(text: str) -> dict[str, str]:
    """``cpu=100,memory=512Gi,pods=1000`` over the defaults."""
    problems: list[str] = []
    capacity = sdk_parse_capacity(text, DEFAULT_CAPACITY, problems)
    if problems:
        raise ValueError("; ".join(problems))
    return capacity


def parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in (part.strip() for text in items for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--node-label: {item!r} is not key=value")
        labels[key] = value
    return labels


def parse_taint(text: str) -> tuple[str, str, str]:
    """``key=value:Effect`` or ``key:Effect``."""
    pair, sep, effect = text.rpartition(":")
    key, _, value = pair.partition("=")
    if not sep or not key or effect not in _EFFECTS:
        raise ValueError(f"--node-taint: {text!r} is not key[=value]:Effect with Effect in {', '.join(_EFFECTS)}")
    return key, value, effect


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("mock provider")
    group.add_argument("--name", default="mock", help="provider name, a DNS label (default %(default)s)")
    group.add_argument(
        "--capacity",
        default="",
        help="node capacity as resource=quantity pairs over the defaults cpu=100,memory=512Gi,pods=1000",
    )
    group.add_argument("--node-label", action="append", default=[], help="key=value label for the Node (repeatable)")
    group.add_argument(
        "--node-taint", action="append", default=[], help="key[=value]:Effect taint for the Node (repeatable)"
    )
    group.add_argument("--zone", default="", help="the Node's topology zone")
    group.add_argument("--region", default="", help="the Node's topology region")
    group.add_argument("--state-file", type=Path, default=None, help="keep pods in this JSON file across restarts")
    group.add_argument("--pod-cidr", default=DEFAULT_POD_CIDR, help="range of fake pod IPs (default %(default)s)")
    group.add_argument(
        "--stop-delay",
        default=None,
        help="how long processes take to exit after SIGTERM unless a pod says otherwise (default: they never do)",
    )
    group.add_argument(
        "--protocol-version",
        default=f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}",
        help="testing aid: the protocol version MAJOR.MINOR to answer in Handshake (default %(default)s)",
    )


def from_args(args: argparse.Namespace) -> MockConfig:
    """The configuration the flags describe; ValueError for invalid values."""
    if not _DNS_LABEL.match(args.name):
        raise ValueError(f"--name: {args.name!r} is not a DNS label")
    AddressPool(args.pod_cidr)  # validates the range
    return MockConfig(
        name=args.name,
        capacity=parse_capacity(args.capacity),
        labels=parse_labels(args.node_label),
        taints=tuple(parse_taint(text) for text in args.node_taint),
        zone=args.zone,
        region=args.region,
        state_file=args.state_file,
        pod_cidr=args.pod_cidr,
        stop_delay=None if args.stop_delay is None else parse_duration(args.stop_delay),
        protocol_version=parse_version(args.protocol_version),
    )


def parse_version(text: str) -> tuple[int, int]:
    """``1.7`` -> (1, 7)."""
    major, sep, minor = text.partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise ValueError(f"--protocol-version: {text!r} is not MAJOR.MINOR, e.g. 1.0")
    return int(major), int(minor)


__all__ = ["DEFAULT_CAPACITY", "MockConfig", "add_arguments", "from_args", "parse_capacity", "parse_taint"]

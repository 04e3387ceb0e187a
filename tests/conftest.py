"""Fixtures shared by every test: the real control plane, fresh namespaces, node identities."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vk_harness import ControlPlane, Identity

# Tests start processes (fork, then exec) while gRPC servers and channels of earlier tests may still have threads
# in this process. gRPC's fork handlers then run in the child before exec, and can stall it there, so a controller
# sometimes never started. The children exec at once and need no gRPC state: turn the handlers off before gRPC is
# imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

_names = itertools.count(1)


def _dns_label(text: str, length: int) -> str:
    """A test's name as part of a Kubernetes name: lower case, dashes for anything else (parametrized ids too)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower())[:length].strip("-")


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One etcd and kube-apiserver for the whole test session (tests isolate themselves by namespace and node)."""
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def isolated_control_plane(tmp_path: Path) -> Iterator[Callable[..., ControlPlane]]:
    """A factory for a control plane of the test's own, for tests that restart or break it."""
    started: list[ControlPlane] = []

    def make(**kwargs: object) -> ControlPlane:
        plane = ControlPlane(tmp_path / f"control-plane-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(plane)
        plane.start()
        return plane

    yield make
    for plane in started:
        plane.stop()


@pytest.fixture
def namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> str:
    """A fresh namespace, ready for pods, named after the test."""
    stem = _dns_label(request.node.name, 40)
    return control_plane.create_namespace(f"{stem}-{next(_names)}")


@pytest.fixture
def node_name(request: pytest.FixtureRequest) -> str:
    return f"vk-{next(_names)}-{_dns_label(request.node.name, 30)}"


@pytest.fixture
def node_identity(control_plane: ControlPlane, node_name: str) -> Identity:
    """Credentials with exactly a kubelet's rights for ``node_name``."""
    return control_plane.node_identity(node_name)

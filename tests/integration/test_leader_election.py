"""Two replicas of the controller for one node: one acts, the other stands by and takes over when it dies.

The node's Lease is the lock. Takeover time follows from the configured lease duration and the standby's retry
period; every pod still runs exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.stack_fixtures import Stack, wait_for
from vk_harness import ControlPlane
from vk_harness.rest import ApiError
from vk_harness.stack import ControllerIntervals, ControllerProcess, start_controller, start_mock_provider

RETRY = 0.2
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def _replica(plane: ControlPlane, workdir: Path, node: str, provider: str, identity: str) -> ControllerProcess:
    return start_controller(
        plane,
        workdir,
        node_name=node,
        provider_address=provider,
        intervals=ControllerIntervals(),
        name=f"controller-{identity}",
        extra_args=("--leader-elect", f"--leader-elect-identity={identity}", f"--leader-elect-retry-period={RETRY}"),
    )


@pytest.fixture
def replicated(control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str) -> Iterator[Stack]:
    provider = start_mock_provider(tmp_path, state_file=tmp_path / "mock-backend.json")
    first = _replica(control_plane, tmp_path, node_name, provider.address, "replica-a")
    stack = Stack(
        plane=control_plane,
        workdir=tmp_path,
        node=node_name,
        namespace=namespace,
        provider=provider,
        controller=first,
        intervals=first.intervals,
    )
    try:
        wait_for("replica-a to lead", lambda: _holder(stack) == "replica-a", timeout=30)
        second = _replica(control_plane, tmp_path, node_name, provider.address, "replica-b")
        stack.standby = second  # type: ignore[attr-defined]
        wait_for("the node to be Ready", lambda: stack.node_condition().get("status") == "True", timeout=30)
        yield stack
    finally:
        first.process.stop()
        second.process.stop()
        provider.process.stop()


def _holder(stack: Stack) -> str | None:
    try:
        holder: str | None = stack.plane.rest.get(f"{LEASES}/{stack.node}")["spec"].get("holderIdentity")
    except ApiError:  # not created yet
        return None
    return holder


def test_only_the_leader_acts_and_the_standby_takes_over_mid_burst(replicated: Stack) -> None:
    stack = replicated
    standby: ControllerProcess = stack.standby  # type: ignore[attr-defined]
    wait_for(
        "replica-b to stand by", lambda: "standing by: replica-a leads" in standby.process.log_tail(200), timeout=30
    )
    names = [f"ha-{i}" for i in range(200)]
    killed_at = 0.0
    for index, name in enumerate(names):
        stack.create_pod(name)
        if index == 60:
            stack.controller.process.kill()
            killed_at = time.monotonic()

    wait_for("replica-b to take the lease", lambda: _holder(stack) == "replica-b", timeout=60, interval=0.05)
    took = time.monotonic() - killed_at
    lease = stack.intervals.lease_duration
    assert took <= lease + RETRY + 1.0, f"the standby took {took:.1f}s to take over a {lease}s lease"

    def all_ready() -> bool:
        pods = stack.pods()
        return len(pods) == len(names) and all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", [])) for p in pods
        )

    wait_for("200 pods to be Ready after the takeover", all_ready, timeout=180, interval=0.5)
    uids = {p["metadata"]["uid"] for p in stack.pods()}
    backend = stack.backend_with_exactly(uids)
    assert set(backend["creates"].values()) == {1}, "a pod was created twice"
    transitions = stack.plane.rest.get(f"{LEASES}/{stack.node}")["spec"]["leaseTransitions"]
    assert transitions >= 1

"""exec, attach and port-forward through an older API server (1.34), which speaks SPDY/3.1 to kubelets: it
terminates kubectl's WebSocket (v5 for exec and attach, the SPDY tunnel for port-forward) and dials the kubelet
API with ``Upgrade: SPDY/3.1``. Everything here therefore runs over the controller's own SPDY implementation, and
each test checks in the controller's log that it did.

The 1.34 control plane is the harness's, built from source on first use (several minutes, then cached).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.stack_fixtures import Stack, wait_for
from integration.test_kubelet_exec import port_forward, round_trip, run_in_pty, running_pod, served
from vk_harness import ControlPlane
from vk_harness.rest import ApiError
from vk_harness.stack import ControllerIntervals, start_controller, start_mock_provider

OLD_KUBERNETES = "1.34.4"


@pytest.fixture(scope="module")
def old_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane-1.34"), kubernetes_version=OLD_KUBERNETES)
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="module")
def old_stack(old_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The mock provider and the controller as node ``vk-spdy`` of the 1.34 control plane."""
    workdir: Path = tmp_path_factory.mktemp("stack-1.34")
    node = f"vk-spdy-{uuid.uuid4().hex[:6]}"
    intervals = ControllerIntervals()
    provider = start_mock_provider(workdir, state_file=workdir / "mock-backend.json")
    controller = start_controller(
        old_plane, workdir, node_name=node, provider_address=provider.address, intervals=intervals
    )
    stack = Stack(
        plane=old_plane,
        workdir=workdir,
        node=node,
        namespace=old_plane.create_namespace("spdy"),
        provider=provider,
        controller=controller,
        intervals=intervals,
    )

    def ready() -> bool:
        try:
            return stack.node_condition().get("status") == "True"
        except ApiError:
            return False

    try:
        wait_for(f"node {node} to be Ready", ready, timeout=30, describe=controller.process.log_tail)
        yield stack
    finally:
        controller.process.stop()
        provider.process.stop()


@pytest.fixture(scope="module")
def shell_pod(old_stack: Stack) -> str:
    running_pod(old_stack, "shell")
    return "shell"


def test_the_old_api_server_is_the_old_version(old_stack: Stack) -> None:
    version = old_stack.plane.rest.get("/version")
    assert version["gitVersion"] == f"v{OLD_KUBERNETES}"


def test_exec_over_spdy(old_stack: Stack, shell_pod: str) -> None:
    result = old_stack.plane.kubectl(
        "exec", "-i", "-n", old_stack.namespace, shell_pod, "--", "sh", "-c", "cat; echo to-stderr >&2; exit 3",
        input_text="through spdy\n" + "y" * 200_000 + "\n",
        check=False,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert result.stdout == "through spdy\n" + "y" * 200_000 + "\n"
    assert "to-stderr" in result.stderr
    assert "to-stderr" not in result.stdout
    assert "v4.channel.k8s.io" in served(old_stack, "exec over SPDY")


def test_exec_success_over_spdy(old_stack: Stack, shell_pod: str) -> None:
    result = old_stack.plane.kubectl("exec", "-n", old_stack.namespace, shell_pod, "--", "echo", "fine")
    assert result.stdout == "fine\n"


def test_exec_with_a_terminal_over_spdy(old_stack: Stack, shell_pod: str) -> None:
    keystrokes = [b"echo tty'-over-'spdy\n", b"exit 7\n"]
    code, output = run_in_pty(old_stack, ["exec", "-it", shell_pod, "--", "sh"], keystrokes)
    assert "tty-over-spdy" in output, output
    assert code == 7, output


def test_attach_over_spdy(old_stack: Stack) -> None:
    script = "sleep 6; echo from-main; sleep 1; exit 2"
    running_pod(old_stack, "talker", command=["sh", "-c", script], restart_policy="Never")
    result = old_stack.plane.kubectl("attach", "-n", old_stack.namespace, "talker", check=False, timeout=60)
    assert "from-main" in result.stdout, result.stderr
    # Like the kubelet's, attach ends in success however the process exited (the pod's status has the code).
    assert result.returncode == 0, result.stderr
    assert served(old_stack, "attach over SPDY")


def test_port_forward_over_spdy(old_stack: Stack) -> None:
    running_pod(old_stack, "server", ports=[{"containerPort": 8080}])
    with port_forward(old_stack, "server", 8080) as local:
        payload = bytes(range(256)) * 2048
        assert round_trip(local, payload) == payload
        assert round_trip(local, b"second connection") == b"second connection"
    assert served(old_stack, "port-forward over SPDY: ")

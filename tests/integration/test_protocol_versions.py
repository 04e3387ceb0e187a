"""The controller against providers of other protocol versions (docs/protocol.md, "Version negotiation and
evolution"): a newer minor works, another major is refused with the Node NotReady (reason ProtocolMismatch) until a
provider of the right major answers again.

The other versions are played by the mock provider with ``--protocol-version`` (its testing aid): everything else
it does is the 1.0 protocol, so what changes is only what its Handshake says.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from integration.stack_fixtures import Stack, running_stack, wait_for
from vk_harness import ControlPlane
from vk_harness.rest import ApiError
from vk_harness.stack import ControllerIntervals, ProviderProcess, start_controller, start_mock_provider

#: Long enough for the controller's slowest retry (its reconnect backoff stops at 5 s) several times over.
WAIT = 30.0


def _provider(workdir: Path, version: str, *, port: int | None = None) -> ProviderProcess:
    return start_mock_provider(
        workdir,
        name=f"mock-{version}-{uuid.uuid4().hex[:6]}",
        port=port,
        state_file=workdir / "mock-backend.json",
        extra_args=("--protocol-version", version),
    )


def _replace_provider(stack: Stack, version: str) -> None:
    """Stop the stack's provider and start one that speaks ``version`` on the same address."""
    port = int(stack.provider.address.rsplit(":", 1)[1])
    stack.provider.process.stop()
    stack.provider = _provider(stack.workdir, version, port=port)


def _ready(stack: Stack) -> dict[str, Any]:
    """The Node's Ready condition; empty while there is no Node."""
    try:
        return stack.node_condition("Ready")
    except ApiError:
        return {}


def _wait_refused(stack: Stack) -> dict[str, Any]:
    """The Ready condition once it says ProtocolMismatch, which must come with status False."""
    refused = wait_for(
        "the node to be NotReady with reason ProtocolMismatch",
        lambda: _ready(stack) if _ready(stack).get("reason") == "ProtocolMismatch" else None,
        timeout=WAIT,
        describe=lambda: f"Ready: {_ready(stack)}\n{stack.controller.process.log_tail()}",
    )
    assert refused["status"] == "False", refused
    return refused


def test_a_provider_of_a_newer_minor_works_with_the_controllers_features(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str
) -> None:
    provider = _provider(tmp_path, "1.7")
    controller = start_controller(
        control_plane, tmp_path, node_name=node_name, provider_address=provider.address, intervals=ControllerIntervals()
    )
    try:
        stack = Stack(control_plane, tmp_path, node_name, namespace, provider, controller, ControllerIntervals())
        wait_for(
            "the node to be Ready",
            lambda: _ready(stack).get("status") == "True",
            timeout=WAIT,
            describe=lambda: controller.process.log_tail(),
        )
        stack.create_pod("newer-minor", command=["sh", "-c", "sleep 3600"])
        stack.wait_phase("newer-minor", "Running")

        log = controller.process.log_tail(400)
        assert (
            "provider 'mock' speaks protocol 1.7, newer than this controller's 1.0: "
            "the controller uses only the features of 1.0"
        ) in log, log
    finally:
        controller.process.stop()
        provider.process.stop()


def test_a_provider_of_another_major_is_refused_and_the_node_goes_not_ready_until_it_matches(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str
) -> None:
    with running_stack(control_plane, tmp_path, namespace, node_name) as stack:
        _replace_provider(stack, "2.0")

        refused = _wait_refused(stack)
        assert "speaks 2.0; the major versions must be equal" in refused["message"], refused
        log = stack.controller.process.log_tail(400)
        assert "provider refused, no pods run through it until that changes" in log, log

        _replace_provider(stack, "1.0")

        wait_for(
            "the node to be Ready again",
            lambda: _ready(stack).get("status") == "True",
            timeout=WAIT,
            describe=lambda: f"Ready: {_ready(stack)}\n{stack.controller.process.log_tail()}",
        )
        assert "provider accepted again" in stack.controller.process.log_tail(400)


def test_a_controller_started_against_another_major_keeps_its_node_not_ready(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str
) -> None:
    with running_stack(control_plane, tmp_path, namespace, node_name) as stack:  # the Node exists, Ready
        node_uid = stack.node_object()["metadata"]["uid"]
    provider = _provider(tmp_path, "2.0")
    controller = start_controller(
        control_plane,
        tmp_path,
        node_name=node_name,
        provider_address=provider.address,
        name=f"controller-{uuid.uuid4().hex[:6]}",
    )
    try:
        stack.provider, stack.controller = provider, controller
        refused = _wait_refused(stack)
        assert "the major versions must be equal" in refused["message"], refused
        assert controller.process.running(), controller.process.log_tail()
        assert stack.node_object()["metadata"]["uid"] == node_uid  # marked, not re-registered
    finally:
        controller.process.stop()
        provider.process.stop()

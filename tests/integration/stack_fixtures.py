"""A running product for integration tests: the mock provider and vk-controller as separate processes, talking
over real gRPC, the controller acting as its node on the session's real API server; plus waits and pod builders.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from vk_harness import ControlPlane
from vk_harness.rest import ApiError
from vk_harness.stack import (
    ControllerIntervals,
    ControllerProcess,
    ProviderProcess,
    start_controller,
    start_mock_provider,
)

T = TypeVar("T")

MOCK = "mock.virtual-kubelet.io/"


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.1,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` and the last state otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = describe() if describe else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}. {detail}")
        time.sleep(interval)


@dataclass
class Stack:
    plane: ControlPlane
    workdir: Path
    node: str
    namespace: str
    provider: ProviderProcess
    controller: ControllerProcess
    intervals: ControllerIntervals

    # -- processes ----------------------------------------------------------------------------------------------

    def restart_provider(self) -> None:
        port = int(self.provider.address.rsplit(":", 1)[1])
        self.provider = start_mock_provider(
            self.workdir, name=f"mock-provider-{uuid.uuid4().hex[:6]}", port=port, state_file=self.provider.state_file
        )

    def restart_controller(self) -> None:
        self.controller = start_controller(
            self.plane,
            self.workdir,
            node_name=self.node,
            provider_address=self.provider.address,
            intervals=self.intervals,
            name=f"controller-{uuid.uuid4().hex[:6]}",
            node_address=self.controller.node_address,
        )

    def backend(self) -> dict[str, Any]:
        """The mock's backend as it persisted it: its pods and how often each UID was created."""
        assert self.provider.state_file is not None
        try:
            state: dict[str, Any] = json.loads(self.provider.state_file.read_text())
        except (OSError, ValueError):
            return {"pods": {}, "creates": {}}
        return state

    def backend_with_exactly(self, uids: set[str], timeout: float = 10.0) -> dict[str, Any]:
        """The backend once it holds exactly these pods (no orphans, none missing). The mock persists at most
        every 0.1 s, so the file may trail the statuses it already reported by that much."""

        def probe() -> dict[str, Any] | None:
            backend = self.backend()
            return backend if set(backend["pods"]) == uids else None

        def describe() -> str:
            held = set(self.backend()["pods"])
            return f"missing {uids - held}, extra {held - uids}"

        return wait_for("the provider's backend to hold exactly the pods", probe, timeout=timeout, describe=describe)

    # -- Kubernetes ---------------------------------------------------------------------------------------------

    def node_object(self) -> dict[str, Any]:
        node: dict[str, Any] = self.plane.rest.get(f"/api/v1/nodes/{self.node}")
        return node

    def node_condition(self, kind: str = "Ready") -> dict[str, Any]:
        for condition in self.node_object().get("status", {}).get("conditions", []):
            if condition["type"] == kind:
                return dict(condition)
        return {}

    def create_pod(
        self,
        name: str,
        *,
        command: list[str] | None = None,
        restart_policy: str = "Always",
        annotations: dict[str, str] | None = None,
        **spec: Any,
    ) -> dict[str, Any]:
        container: dict[str, Any] = {"name": "main", "image": "busybox:1.36"}
        if command:
            container["command"] = command
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"nodeName": self.node, "restartPolicy": restart_policy, "containers": [container], **spec},
        }
        created: dict[str, Any] = self.plane.rest.create(f"/api/v1/namespaces/{self.namespace}/pods", body)
        return created

    def pod(self, name: str) -> dict[str, Any] | None:
        try:
            pod: dict[str, Any] = self.plane.rest.get(f"/api/v1/namespaces/{self.namespace}/pods/{name}")
            return pod
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def must_pod(self, name: str) -> dict[str, Any]:
        pod = self.pod(name)
        assert pod is not None, f"pod {name} does not exist"
        return pod

    def pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.plane.rest.get(f"/api/v1/namespaces/{self.namespace}/pods")["items"]
        return items

    def wait_phase(self, name: str, phase: str, timeout: float = 30.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            pod = self.pod(name)
            return pod if pod and pod.get("status", {}).get("phase") == phase else None

        return wait_for(
            f"pod {name} to be {phase}", probe, timeout=timeout, describe=lambda: f"status: {self._status(name)}"
        )

    def wait_ready_pod(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            pod = self.pod(name)
            conditions = {c["type"]: c["status"] for c in (pod or {}).get("status", {}).get("conditions", [])}
            return pod if conditions.get("Ready") == "True" else None

        return wait_for(
            f"pod {name} to be Ready", probe, timeout=timeout, describe=lambda: f"status: {self._status(name)}"
        )

    def _status(self, name: str) -> str:
        pod = self.pod(name)
        return json.dumps(pod.get("status") if pod else None)[:1500]

    def events_for(self, name: str) -> list[dict[str, Any]]:
        events = self.plane.rest.get(
            f"/api/v1/namespaces/{self.namespace}/events?fieldSelector=involvedObject.name%3D{name}"
        )["items"]
        return list(events)


@contextlib.contextmanager
def running_stack(
    plane: ControlPlane,
    workdir: Path,
    namespace: str,
    node_name: str,
    *,
    node_address: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    provider_host: str = "127.0.0.1",
    controller_prefix: tuple[str, ...] = (),
    provider_args: tuple[str, ...] = (),
    controller_args: tuple[str, ...] = (),
) -> Iterator[Stack]:
    """The stack; ``env`` is added to both processes' environment (e.g. ``OTEL_*``); ``controller_prefix`` runs
    the controller under another command (e.g. ``ip netns exec``), with the provider on ``provider_host``;
    ``provider_args`` and ``controller_args`` are added to their command lines (later flags win)."""
    provider = start_mock_provider(
        workdir, state_file=workdir / "mock-backend.json", env=env, host=provider_host, extra_args=provider_args
    )
    try:
        with controller_stack(
            plane,
            workdir,
            namespace,
            node_name,
            provider,
            node_address=node_address,
            env=env,
            command_prefix=controller_prefix,
            extra_args=controller_args,
        ) as running:
            yield running
    finally:
        provider.process.stop()


@contextlib.contextmanager
def controller_stack(
    plane: ControlPlane,
    workdir: Path,
    namespace: str,
    node_name: str,
    provider: ProviderProcess,
    *,
    node_address: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    command_prefix: tuple[str, ...] = (),
    extra_args: tuple[str, ...] = (),
    ready_timeout: float = 30,
) -> Iterator[Stack]:
    """vk-controller beside an already started ``provider`` (the caller stops it), yielded once the Node is Ready."""
    intervals = ControllerIntervals()
    controller = start_controller(
        plane,
        workdir,
        node_name=node_name,
        provider_address=provider.address,
        intervals=intervals,
        node_address=node_address,
        env=env,
        command_prefix=command_prefix,
        extra_args=extra_args,
    )
    running = Stack(
        plane=plane,
        workdir=workdir,
        node=node_name,
        namespace=namespace,
        provider=provider,
        controller=controller,
        intervals=intervals,
    )
    try:
        wait_node_ready(running, timeout=ready_timeout)
        yield running
    finally:
        controller.process.stop()


@pytest.fixture
def stack(control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str) -> Iterator[Stack]:
    with running_stack(control_plane, tmp_path, namespace, node_name) as running:
        yield running


def wait_node_ready(stack: Stack, timeout: float = 30) -> None:
    """Wait until the stack's Node exists and is Ready; fail with the controller's log otherwise."""
    wait_for(
        f"node {stack.node} to be Ready",
        lambda: stack.node_condition().get("status") == "True" if _exists(stack) else None,
        timeout=timeout,
        describe=lambda: (
            f"controller:\n{stack.controller.process.log_tail()}\nprovider:\n{stack.provider.process.log_tail()}"
        ),
    )


def _exists(stack: Stack) -> bool:
    try:
        stack.node_object()
        return True
    except ApiError:
        return False

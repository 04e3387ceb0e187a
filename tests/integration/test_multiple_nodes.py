"""One controller process serving three virtual nodes (``--nodes-config``), each with its own identity and its own
mock provider: every node passes the core lifecycle tests, pods never cross to another node's provider, and one
node's trouble (its provider down, its runtime failing) leaves the other nodes Ready and running pods."""

from __future__ import annotations

import contextlib
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from integration import test_controller_node as node_tests
from integration import test_controller_pods as pod_tests
from integration import test_kubelet_logs as log_tests
from integration.stack_fixtures import Stack, wait_for, wait_node_ready
from integration.test_observability import scrape, value
from vk_controller.app import MAX_RESTART_DELAY
from vk_harness import ControlPlane
from vk_harness.stack import ControllerIntervals, start_mock_provider, start_nodes_controller

REGIONS = ("a", "b", "c")

#: The core lifecycle, as the single-node tests check it, run on each node of the process.
CORE: tuple[Callable[[Stack], None], ...] = (
    node_tests.test_the_node_registers_with_the_providers_template_and_a_taint,
    node_tests.test_the_lease_is_renewed,
    pod_tests.test_exit_codes_decide_the_phase_under_restart_policy_never,
    pod_tests.test_graceful_delete_removes_the_pod_only_after_the_provider_confirms,
    pod_tests.test_force_delete_removes_the_pod_from_the_provider,
    pod_tests.test_a_failed_create_fails_the_pod_with_the_reason_and_an_event,
    pod_tests.test_spec_a_virtual_node_cannot_honour_is_refused,
    pod_tests.test_active_deadline_fails_the_pod_and_stops_it_on_the_provider,
    log_tests.test_logs_show_what_the_container_wrote,
)
#: Pods of the core lifecycle that remain and ran on the provider.
RAN = ("ok", "broken", "deadline", "hello")


@contextlib.contextmanager
def three_nodes(
    plane: ControlPlane,
    workdir: Path,
    namespace: str,
    node_name: str,
    *,
    kubelet_ports: dict[str, int] | None = None,
) -> Iterator[list[Stack]]:
    """Three mock providers and one controller process for the nodes ``<node_name>-a``, ``-b``, ``-c``; each node's
    Stack has a namespace of its own, so the single-node tests' pod names and listings apply to each unchanged."""
    intervals = ControllerIntervals()
    names = [f"{node_name}-{region}" for region in REGIONS]
    providers = []
    try:
        for region in REGIONS:
            providers.append(
                start_mock_provider(
                    workdir, name=f"mock-provider-{region}", state_file=workdir / f"mock-backend-{region}.json"
                )
            )
        controllers = start_nodes_controller(
            plane,
            workdir,
            nodes={name: provider.address for name, provider in zip(names, providers, strict=True)},
            intervals=intervals,
            kubelet_ports={f"{node_name}-{region}": port for region, port in (kubelet_ports or {}).items()},
        )
        stacks = [
            Stack(
                plane=plane,
                workdir=workdir,
                node=controller.node_name,
                namespace=plane.create_namespace(f"{namespace}-{region}"),
                provider=provider,
                controller=controller,
                intervals=intervals,
            )
            for region, provider, controller in zip(REGIONS, providers, controllers, strict=True)
        ]
        try:
            yield stacks
        finally:
            controllers[0].process.stop()
    finally:
        for provider in providers:
            provider.process.stop()


def healthz(stack: Stack) -> tuple[int, str]:
    """The process's plain health endpoint, verbose: its status code and body (0 while it does not answer)."""
    url = f"http://127.0.0.1:{stack.controller.healthz_port}/healthz?verbose"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except urllib.error.URLError as error:  # not listening yet
        return 0, str(error)


def test_each_of_three_nodes_in_one_process_passes_the_core_lifecycle(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str
) -> None:
    with three_nodes(control_plane, tmp_path, namespace, node_name) as stacks:
        for stack in stacks:
            wait_node_ready(stack)

        def lifecycle(stack: Stack) -> None:
            for test in CORE:
                test(stack)

        with ThreadPoolExecutor(len(stacks)) as pool:
            for done in [pool.submit(lifecycle, stack) for stack in stacks]:
                done.result()

        created = {stack.node: set(stack.backend()["creates"]) for stack in stacks}
        listed = {stack.node: {pod["metadata"]["uid"]: pod for pod in stack.pods()} for stack in stacks}
        for stack in stacks:
            ran = {uid for uid, pod in listed[stack.node].items() if pod["metadata"]["name"] in RAN}
            assert len(ran) == len(RAN), f"pods that ran on {stack.node}: {ran}"
            assert ran <= created[stack.node], f"pods of {stack.node} missing from its provider"
            for other in stacks:
                if other is not stack:
                    crossed = created[stack.node] & (created[other.node] | set(listed[other.node]))
                    assert not crossed, f"{stack.node}'s provider created pods of {other.node}"
        assert len({stack.controller.kubelet_port for stack in stacks}) == len(stacks)
        assert len({stack.controller.process.pid for stack in stacks}) == 1, "one process serves every node"


def test_a_dead_provider_makes_only_its_node_not_ready(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str
) -> None:
    with three_nodes(control_plane, tmp_path, namespace, node_name) as stacks:
        a, b, c = stacks
        for stack in stacks:
            wait_node_ready(stack)
            stack.create_pod("before")
        for stack in stacks:
            stack.wait_ready_pod("before")

        b.provider.process.kill()
        not_ready = wait_for(
            "node b to go NotReady",
            lambda: (condition := b.node_condition()).get("status") == "False" and condition,
            timeout=b.intervals.provider_ping_interval + b.intervals.provider_ping_timeout + 10,
        )
        assert not_ready["reason"] == "ProviderUnreachable"
        assert b.provider.address in not_ready["message"]
        b.create_pod("while-down")
        for stack in (a, c):
            assert stack.node_condition()["status"] == "True", f"{stack.node} lost Ready with another node's provider"
            stack.create_pod("after")
        for stack in (a, c):
            stack.wait_ready_pod("after")
            assert stack.node_condition()["status"] == "True"
        status, body = healthz(a)
        assert status == 200, body
        assert all(f"[+]node/{stack.node} ok" in body for stack in stacks), body
        series = scrape(a)
        for stack in (a, c):
            assert value(series, "vk_pods", node=stack.node, phase="Running") == 2
        assert value(series, "vk_pods", node=b.node, phase="Pending") == 1

        b.restart_provider()
        wait_node_ready(b)
        b.wait_ready_pod("while-down")
        for stack in stacks:
            uids = {pod["metadata"]["uid"] for pod in stack.pods()}
            backend = stack.backend_with_exactly(uids)
            assert set(backend["creates"].values()) == {1}, f"a pod was created twice on {stack.node}"


def test_a_failing_node_is_restarted_alone_and_reported_by_healthz(
    control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str
) -> None:
    with contextlib.ExitStack() as held:
        # Node c's kubelet port is taken: its runtime fails as soon as it serves the kubelet API.
        squatter = held.enter_context(socket.socket())
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        a, b, c = held.enter_context(
            three_nodes(control_plane, tmp_path, namespace, node_name, kubelet_ports={"c": port})
        )

        def c_failing() -> str | None:
            status, body = healthz(a)
            return body if status == 500 and f"[-]node/{c.node} failed" in body else None

        failing = wait_for(
            "healthz to report node c failing",
            c_failing,
            timeout=30,
            describe=lambda: a.controller.process.log_tail(),
        )
        assert "address already in use" in failing.lower(), failing
        assert f"[+]node/{a.node} ok" in failing
        for stack in (a, b):
            wait_node_ready(stack)
            stack.create_pod("meanwhile")
            stack.wait_ready_pod("meanwhile")

        squatter.close()
        c.create_pod("hello", command=["sh", "-c", "echo hello from c; sleep 3600"])
        c.wait_phase("hello", "Running", timeout=MAX_RESTART_DELAY + 30)
        assert log_tests.wait_logged(c, "hello", "hello from c") == "hello from c\n"
        status, body = healthz(a)
        assert status == 200, body
        assert f"[+]node/{c.node} ok" in body
        assert a.controller.process.running()

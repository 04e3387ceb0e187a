"""The kubelet API through the API server's node proxy: ``kubectl get --raw /api/v1/nodes/<node>/proxy/...``.

The proxy refuses loopback addresses, so the node needs one of its own: vk-controller runs inside a network
namespace the test makes (:mod:`vk_harness.netns`) and advertises its address there as the node's InternalIP. The
API server listens on the root namespace's end of the veth pair, and so does the mock provider; every packet stays
on loopback or on that pair.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.stack_fixtures import Stack, running_stack, wait_for
from integration.test_kubelet_stats import TIME, parse_metrics
from vk_harness import ControlPlane
from vk_harness.netns import NetworkNamespace, network_namespace, unavailable_reason


@pytest.fixture
def test_host() -> Iterator[NetworkNamespace]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI runs as root with iproute2, so this test must not be skipped there")
        pytest.skip(reason)
    with network_namespace() as host:
        yield host


@pytest.fixture
def proxied_stack(
    test_host: NetworkNamespace,
    isolated_control_plane: Callable[..., ControlPlane],
    tmp_path: Path,
    node_name: str,
) -> Iterator[Stack]:
    """The product with the controller inside ``test_host``, on a control plane listening on the host's end."""
    plane = isolated_control_plane(bind_address=test_host.host_address)
    try:
        with running_stack(
            plane,
            tmp_path,
            plane.create_namespace("proxied"),
            node_name,
            node_address=test_host.namespace_address,
            provider_host=test_host.host_address,
            controller_prefix=test_host.exec_prefix,
        ) as stack:
            yield stack
    finally:
        plane.stop()  # before the address it listens on goes away with the veth pair


def proxied(stack: Stack, path: str) -> str:
    return stack.plane.kubectl("get", "--raw", f"/api/v1/nodes/{stack.node}/proxy{path}").stdout


def test_stats_metrics_and_healthz_through_the_node_proxy(proxied_stack: Stack) -> None:
    stack = proxied_stack
    assert {"type": "InternalIP", "address": stack.controller.node_address} in stack.node_object()["status"][
        "addresses"
    ]
    uid = stack.create_pod("single", command=["sh", "-c", "sleep 3600"])["metadata"]["uid"]
    stack.wait_phase("single", "Running")

    summary = json.loads(proxied(stack, "/stats/summary"))
    assert summary["node"]["nodeName"] == stack.node
    assert TIME.match(summary["node"]["startTime"])
    ((pod,),) = [summary["pods"]]
    assert pod["podRef"] == {"namespace": stack.namespace, "name": "single", "uid": uid}
    ((container,),) = [pod["containers"]]
    assert container["name"] == "main"
    assert container["cpu"]["usageNanoCores"] > 0
    assert container["memory"]["workingSetBytes"] > 0

    types, samples = parse_metrics(proxied(stack, "/metrics/resource"))
    assert types["container_memory_working_set_bytes"] == "gauge"
    series = {
        name: value
        for name, labels, value, _ in samples
        if labels.get("namespace") == stack.namespace and labels.get("pod") == "single" and labels.get("container")
    }
    assert set(series) == {
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_start_time_seconds",
    }
    assert series["container_memory_working_set_bytes"] == container["memory"]["workingSetBytes"]

    assert proxied(stack, "/healthz") == "ok"


def test_the_node_proxy_needs_rights_on_nodes_proxy(proxied_stack: Stack) -> None:
    stack = proxied_stack
    plane = stack.plane
    nobody = plane.user_identity("nobody")
    reader = plane.user_identity("stats-reader")
    plane.rest.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        {
            "metadata": {"name": "node-proxy-reader"},
            "rules": [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}],
        },
    )
    plane.rest.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": "stats-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-proxy-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "stats-reader"}],
        },
    )
    path = f"/api/v1/nodes/{stack.node}/proxy/stats/summary"

    refused = plane.kubectl("get", "--raw", path, identity=nobody, check=False)

    assert refused.returncode != 0
    assert "Forbidden" in refused.stderr, refused.stderr
    assert 'cannot get resource "nodes/proxy"' in refused.stderr, refused.stderr

    def as_reader() -> str | None:
        result = plane.kubectl("get", "--raw", path, identity=reader, check=False)
        return result.stdout if result.returncode == 0 else None

    allowed = wait_for("the binding to take effect", as_reader, timeout=10)
    assert json.loads(allowed)["node"]["nodeName"] == stack.node

"""The controller registers its Node as a kubelet would, keeps its Lease, and reports provider health honestly."""

from __future__ import annotations

import signal

from integration.stack_fixtures import Stack, wait_for
from vk_controller.pods import quantity


def test_the_node_registers_with_the_providers_template_and_a_taint(stack: Stack) -> None:
    node = stack.node_object()
    labels = node["metadata"]["labels"]

    assert labels["type"] == "virtual-kubelet"
    assert labels["kubernetes.io/hostname"] == stack.node
    assert labels["kubernetes.io/os"] == node["status"]["nodeInfo"]["operatingSystem"]
    assert {"key": "virtual-kubelet.io/provider", "value": "mock", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert quantity.value(node["status"]["capacity"]["pods"]) == 1000, "the mock's default capacity"
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == stack.controller.kubelet_port
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.")


def test_the_lease_is_renewed(stack: Stack) -> None:
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{stack.node}"
    first = stack.plane.rest.get(path)["spec"]["renewTime"]

    renewed = wait_for(
        "the lease to be renewed",
        lambda: (lease := stack.plane.rest.get(path))["spec"]["renewTime"] != first and lease,
        timeout=stack.intervals.lease_renew_interval * 5,
    )

    assert renewed["spec"]["holderIdentity"] == stack.node
    assert renewed["spec"]["leaseDurationSeconds"] == stack.intervals.lease_duration
    assert renewed["metadata"]["ownerReferences"][0]["kind"] == "Node"


def test_a_killed_provider_makes_the_node_not_ready_and_a_restart_recovers(stack: Stack) -> None:
    stack.create_pod("survivor")
    stack.wait_ready_pod("survivor")
    uid = stack.must_pod("survivor")["metadata"]["uid"]

    stack.provider.process.kill()
    not_ready = wait_for(
        "the node to go NotReady",
        lambda: (c := stack.node_condition()).get("status") == "False" and c,
        timeout=stack.intervals.provider_ping_interval + stack.intervals.provider_ping_timeout + 10,
    )
    assert not_ready["reason"] == "ProviderUnreachable"
    assert stack.provider.address in not_ready["message"]

    stack.restart_provider()
    wait_for("the node to be Ready again", lambda: stack.node_condition().get("status") == "True", timeout=30)
    stack.wait_ready_pod("survivor")
    assert stack.backend()["creates"] == {uid: 1}, "the provider restart must not make the controller create again"


def test_sigterm_stops_the_controller_and_leaves_pods_running(stack: Stack) -> None:
    stack.create_pod("stays")
    stack.wait_ready_pod("stays")

    stack.controller.process.signal(signal.SIGTERM)
    wait_for("the controller to exit", lambda: not stack.controller.process.running(), timeout=15)

    assert stack.controller.process.exit_code() == 0
    assert len(stack.backend()["pods"]) == 1
    stack.restart_controller()
    stack.wait_ready_pod("stays")
    assert list(stack.backend()["creates"].values()) == [1]

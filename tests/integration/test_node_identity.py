"""The harness hands out kubelet identities with exactly a kubelet's rights on a real API server.

The controller will run as such an identity, so these tests pin what the Node authorizer and the NodeRestriction
admission plugin let a node do and refuse.
"""

from __future__ import annotations

from typing import Any

import pytest

from vk_controller.kube import Forbidden, KubeClient
from vk_controller.kube.config import from_kubeconfig
from vk_harness import ControlPlane, Identity

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def _node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"type": "virtual-kubelet"}},
    }


def _lease(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40},
    }


def _pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox"}]},
    }


@pytest.fixture
def other_node(control_plane: ControlPlane, node_name: str) -> str:
    """Another node, registered by the admin, whose objects ours must not touch."""
    name = f"{node_name}-other"
    control_plane.rest.create("/api/v1/nodes", _node(name))
    control_plane.rest.create(LEASES, _lease(name))
    return name


async def test_a_node_creates_its_node_and_lease_and_reads_its_pods(
    control_plane: ControlPlane, node_identity: Identity, node_name: str, namespace: str
) -> None:
    control_plane.rest.create(f"/api/v1/namespaces/{namespace}/pods", _pod("mine", node_name))

    async with KubeClient(from_kubeconfig(node_identity.kubeconfig)) as kube:
        node = await kube.create("/api/v1/nodes", _node(node_name))
        lease = await kube.create(LEASES, _lease(node_name))
        pod = await kube.get(f"/api/v1/namespaces/{namespace}/pods/mine")
        listed = await kube.get("/api/v1/pods", params={"fieldSelector": f"spec.nodeName={node_name}"})
        patched = await kube.patch(
            f"/api/v1/namespaces/{namespace}/pods/mine/status", {"status": {"message": "seen by its node"}}
        )

    assert node["metadata"]["name"] == node_name
    assert lease["spec"]["holderIdentity"] == node_name
    assert pod["spec"]["nodeName"] == node_name
    assert [item["metadata"]["name"] for item in listed["items"]] == ["mine"]
    assert patched["status"]["message"] == "seen by its node"


async def test_a_node_is_refused_another_nodes_objects(
    control_plane: ControlPlane, node_identity: Identity, node_name: str, other_node: str, namespace: str
) -> None:
    control_plane.rest.create(f"/api/v1/namespaces/{namespace}/pods", _pod("theirs", other_node))
    refused: dict[str, str] = {}

    async with KubeClient(from_kubeconfig(node_identity.kubeconfig)) as kube:
        await kube.create("/api/v1/nodes", _node(node_name))
        attempts = {
            "patch their node": kube.patch(f"/api/v1/nodes/{other_node}", {"metadata": {"labels": {"x": "y"}}}),
            "renew their lease": kube.patch(f"{LEASES}/{other_node}", {"spec": {"holderIdentity": node_name}}),
            "read their pod": kube.get(f"/api/v1/namespaces/{namespace}/pods/theirs"),
            "write their pod's status": kube.patch(
                f"/api/v1/namespaces/{namespace}/pods/theirs/status", {"status": {"message": "mine now"}}
            ),
            "list every pod": kube.get("/api/v1/pods"),
            "list every secret": kube.get("/api/v1/secrets"),
            "delete their node": kube.delete(f"/api/v1/nodes/{other_node}"),
        }
        for what, attempt in attempts.items():
            with pytest.raises(Forbidden) as caught:
                await attempt
            refused[what] = caught.value.message

    assert set(refused) == set(attempts)
    assert all(message for message in refused.values()), refused
    their_node = control_plane.rest.get(f"/api/v1/nodes/{other_node}")
    assert "x" not in their_node["metadata"].get("labels", {})


def test_kubectl_applies_manifests(control_plane: ControlPlane, namespace: str) -> None:
    manifest = f"""
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: {namespace}
data:
  greeting: hello
"""
    control_plane.kubectl("apply", "-f", "-", input_text=manifest)
    control_plane.kubectl("apply", "-f", "-", input_text=manifest.replace("hello", "again"))

    got = control_plane.kubectl("get", "configmap", "applied", "-n", namespace, "-o", "jsonpath={.data.greeting}")
    assert got.stdout == "again"

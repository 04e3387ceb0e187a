"""Which labels a node may set on itself under NodeRestriction."""

from __future__ import annotations

import pytest

from vk_controller.node.registration import label_allowed


@pytest.mark.parametrize(
    "key",
    [
        "type",
        "example.com/team",
        "kubernetes.io/hostname",
        "kubernetes.io/os",
        "topology.kubernetes.io/zone",
        "node.kubernetes.io/instance-type",
        "node.kubernetes.io/exclude-from-external-load-balancers",
        "foo.kubelet.kubernetes.io/bar",
    ],
)
def test_allowed(key: str) -> None:
    assert label_allowed(key)


@pytest.mark.parametrize(
    "key",
    [
        "kubernetes.io/role",
        "node-role.kubernetes.io/agent",
        "k8s.io/anything",
        "sub.k8s.io/x",
        "node-restriction.kubernetes.io/x",
        "a.node-restriction.kubernetes.io/x",
    ],
)
def test_refused(key: str) -> None:
    assert not label_allowed(key)

"""Spec no virtual node can honour is refused with the field named."""

from __future__ import annotations

from vk_controller.pods.unsupported import problems


def test_an_ordinary_pod_has_no_problems() -> None:
    assert (
        problems({"containers": [{"name": "a", "ports": [{"containerPort": 80}]}], "volumes": [{"emptyDir": {}}]}) == []
    )


def test_every_host_feature_is_named_by_its_field() -> None:
    spec = {
        "hostNetwork": True,
        "hostPID": True,
        "hostIPC": True,
        "initContainers": [{"name": "i", "securityContext": {"privileged": True}}],
        "containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]}],
        "volumes": [{"name": "v", "hostPath": {"path": "/etc"}}],
    }

    found = problems(spec)

    assert [p.split(":")[0] for p in found] == [
        "spec.hostNetwork",
        "spec.hostPID",
        "spec.hostIPC",
        "spec.initContainers[0].securityContext.privileged",
        "spec.containers[0].ports[0].hostPort",
        "spec.volumes[0].hostPath",
    ]

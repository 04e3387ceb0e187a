"""The mock's inputs: annotations, flags, pod IPs, and what it refuses."""

from __future__ import annotations

import argparse

import pytest

from virtualkubelet.provider.v1 import container_pb2, node_pb2, pod_pb2, volume_pb2
from vk_provider_mock import behaviour, config
from vk_provider_mock.ipam import AddressPool
from vk_provider_mock.validation import validate
from vk_provider_sdk import cli, errors

MOCK = "mock.virtual-kubelet.io/"


def test_annotations_become_behaviour() -> None:
    parsed = behaviour.from_annotations(
        {
            MOCK + "startup-delay": "150ms",
            MOCK + "readiness-delay": "2s",
            MOCK + "exit-after": "1m",
            MOCK + "exit-code": "3",
            MOCK + "image-pull-error": "bad:1, worse:2",
            MOCK + "fail-create": "QuotaExceeded: no room",
            "unrelated/annotation": "ignored",
        }
    )

    assert (parsed.startup_delay, parsed.readiness_delay, parsed.exit_after, parsed.exit_code) == (0.15, 2, 60, 3)
    assert parsed.image_fails("bad:1")
    assert not parsed.image_fails("good:1")
    assert parsed.fail_create == ("QuotaExceeded", "no room")


def test_restart_back_off_doubles_up_to_five_minutes() -> None:
    parsed = behaviour.from_annotations({MOCK + "restart-backoff": "10s"})

    assert [parsed.backoff(n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("startup-delay", "soon", "is not a duration"),
        ("exit-code", "300", "from 0 to 255"),
        ("startup-dealy", "1s", "unknown mock annotation"),
    ],
)
def test_a_wrong_mock_annotation_refuses_the_pod_naming_it(name: str, value: str, message: str) -> None:
    with pytest.raises(errors.InvalidPod, match=message) as caught:
        behaviour.from_annotations({MOCK + name: value})

    assert f"metadata.annotations[{MOCK}{name}]" in caught.value.message


def parse_flags(*argv: str) -> config.MockConfig:
    parser = cli.build_parser("vk-provider-mock")
    config.add_arguments(parser)
    return config.from_args(parser.parse_args(list(argv)))


def test_flags_describe_the_node() -> None:
    node = parse_flags(
        "--capacity",
        "cpu=8,nvidia.com/gpu=2",
        "--node-label",
        "tier=test,team=a",
        "--node-taint",
        "dedicated=mock:NoExecute",
        "--zone",
        "z1",
        "--region",
        "r1",
    ).node()

    assert dict(node.capacity) == {"cpu": "8", "memory": "512Gi", "pods": "1000", "nvidia.com/gpu": "2"}
    assert dict(node.allocatable) == dict(node.capacity)
    assert dict(node.labels) == {"tier": "test", "team": "a"}
    assert [(t.key, t.value, t.effect) for t in node.taints] == [
        ("dedicated", "mock", node_pb2.TAINT_EFFECT_NO_EXECUTE)
    ]
    assert (node.zone, node.region) == ("z1", "r1")
    assert (node.system_info.operating_system, node.system_info.architecture) == ("linux", "amd64")


def test_defaults_are_documented_values() -> None:
    defaults = parse_flags()

    assert defaults.name == "mock"
    assert defaults.capacity == {"cpu": "100", "memory": "512Gi", "pods": "1000"}
    assert defaults.state_file is None
    assert defaults.pod_cidr == "10.244.0.0/16"


@pytest.mark.parametrize(
    "argv",
    [
        ["--capacity", "memory=lots"],
        ["--node-taint", "key=value"],
        ["--node-label", "novalue"],
        ["--name", "Not_A_Label"],
        ["--pod-cidr", "banana"],
    ],
)
def test_invalid_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises((ValueError, argparse.ArgumentTypeError)):
        parse_flags(*argv)


def test_pod_ips_are_deterministic_unique_and_never_loopback() -> None:
    first, second = AddressPool(), AddressPool()
    addresses = [first.allocate(f"uid-{n}") for n in range(200)]

    assert addresses == [second.allocate(f"uid-{n}") for n in range(200)]
    assert len(set(addresses)) == 200
    assert all(address.startswith("10.244.") for address in addresses)
    assert "10.244.0.0" not in addresses
    assert "10.244.0.1" not in addresses


def test_an_address_in_use_is_skipped_and_a_released_one_reused() -> None:
    pool = AddressPool("192.168.7.0/29")  # 5 usable addresses
    taken = {pool.allocate(f"uid-{n}") for n in range(5)}

    with pytest.raises(errors.ResourceExhausted):
        pool.allocate("one-too-many")
    released = taken.pop()
    pool.release(released)
    assert pool.allocate("newcomer") == released


def pod(**fields: object) -> pod_pb2.Pod:
    base = pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid="u", name="p"), containers=[container_pb2.Container(name="c", image="i")]
    )
    base.MergeFrom(pod_pb2.Pod(**fields))  # type: ignore[arg-type]
    return base


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (pod(host_network=True), "spec.hostNetwork"),
        (pod(volumes=[volume_pb2.Volume(name="v")]), "spec.volumes[0]"),
        (
            pod(volumes=[volume_pb2.Volume(name="v", unsupported=volume_pb2.UnsupportedVolume(kind="hostPath"))]),
            "spec.volumes[0].hostPath",
        ),
        (
            pod(
                containers=[
                    container_pb2.Container(
                        name="d",
                        env=[container_pb2.EnvVar(name="H", runtime_value=container_pb2.RUNTIME_VALUE_HOST_IP)],
                    )
                ]
            ),
            "spec.containers[1].env[0].valueFrom.fieldRef",
        ),
        (pod(containers=[container_pb2.Container(name="c")]), "spec.containers[1].name"),
    ],
)
def test_what_the_mock_cannot_run_is_refused_naming_the_field(spec: pod_pb2.Pod, field: str) -> None:
    with pytest.raises(errors.InvalidPod) as caught:
        validate(spec)

    assert caught.value.message.startswith(field + ":")


def test_an_ordinary_pod_is_accepted() -> None:
    validate(pod(volumes=[volume_pb2.Volume(name="v", empty_dir=volume_pb2.EmptyDirVolume())]))

"""vk-provider-aci's pure parts: configuration, pod → container group, group → status, log lines."""

from __future__ import annotations

import argparse
import base64

import pytest
from integration.reliability import record

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, status_pb2, volume_pb2
from vk_provider_aci import config, logs, mapping, status
from vk_provider_sdk import errors

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"


def make_config(**overrides: object) -> config.AciConfig:
    values: dict[str, object] = {"subscription_id": SUBSCRIPTION, "resource_group": "rg", "region": "westeurope"}
    values.update(overrides)
    return config.AciConfig(**values)  # type: ignore[arg-type]


def make_pod(**container_fields: object) -> pod_pb2.Pod:
    container = container_pb2.Container(name="main", image="busybox:1.36", **container_fields)  # type: ignore[arg-type]
    return pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid="0a1b2c3d-0000-1111-2222-333344445555", namespace="ns", name="web"),
        revision="r1",
        containers=[container],
        restart_policy=pod_pb2.RESTART_POLICY_NEVER,
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return parser.parse_args(argv)


def test_config_reports_every_mistake_at_once() -> None:
    args = parse(["--subscription-id", "nope", "--region", "West Europe", "--gpu-sku", "A100", "--tag", "a/b=c"])
    with pytest.raises(ValueError, match="invalid ACI configuration") as raised:
        config.from_args(args, environ={})
    text = str(raised.value)
    for flag in ("--subscription-id", "--resource-group", "--region", "--gpu-sku", "--tag"):
        assert flag in text


def test_config_needs_the_workspace_key_from_the_environment() -> None:
    base = ["--subscription-id", SUBSCRIPTION, "--resource-group", "rg", "--region", "westeurope"]
    workspace = ["--log-analytics-workspace-id", SUBSCRIPTION]
    with pytest.raises(ValueError, match="VK_ACI_LOG_ANALYTICS_KEY"):
        config.from_args(parse(base + workspace), environ={})
    made = config.from_args(parse(base + workspace), environ={config.LOG_ANALYTICS_KEY_ENV: "wk-secret"})
    assert made.log_analytics_key == "wk-secret"
    assert "wk-secret" not in repr(made)


def test_command_and_args_are_joined_and_env_secrets_use_secure_value() -> None:
    pod = make_pod(
        command=["sh", "-c"],
        args=["echo hi"],
        env=[
            container_pb2.EnvVar(name="A", value="1"),
            container_pb2.EnvVar(name="B", value="secret", sensitive=True),
        ],
    )
    body = mapping.container_group(pod, make_config(), node_name="n")
    properties = body["properties"]["containers"][0]["properties"]
    assert properties["command"] == ["sh", "-c", "echo hi"]
    assert properties["environmentVariables"] == [{"name": "A", "value": "1"}, {"name": "B", "secureValue": "secret"}]
    assert body["properties"]["restartPolicy"] == "Never"
    assert body["tags"]["vk.pod-uid"] == pod.metadata.uid
    assert body["tags"]["vk.node"] == "n"
    assert properties["resources"] == {"requests": {"cpu": 1.0, "memoryInGB": 1.5}}


def test_args_without_command_are_refused_naming_the_field() -> None:
    with pytest.raises(errors.InvalidPod, match=r"spec\.containers\[0\]\.args"):
        mapping.container_group(make_pod(args=["x"]), make_config(), node_name="n")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.containers[0].readiness_probe.tcp_socket.SetInParent(), "readinessProbe.tcpSocket"),
        (lambda p: p.volumes.add(name="v", unsupported=volume_pb2.UnsupportedVolume(kind="hostPath")), "hostPath"),
        (lambda p: p.volumes.add(name="v"), "spec.volumes[0]"),
        (lambda p: setattr(p, "restart_policy", 42), "spec.restartPolicy"),
        (lambda p: setattr(p, "host_network", True), "spec.hostNetwork"),
        (lambda p: p.containers[0].resources.requests.extended.__setitem__("nvidia.com/gpu", "1"), "nvidia.com/gpu"),
    ],
)
def test_what_aci_cannot_run_is_refused(change: object, field: str) -> None:
    pod = make_pod(command=["true"])
    change(pod)  # type: ignore[operator]
    with pytest.raises(errors.InvalidPod) as refused:
        mapping.container_group(pod, make_config(), node_name="n")
    record(
        "pod-spec",
        provider="aci",
        case=field,
        reason=refused.value.reason,
        message=refused.value.message,
        test=f"tests/unit/test_aci_mapping.py::test_what_aci_cannot_run_is_refused[{field}]",
    )
    assert field in refused.value.message


def test_resources_gpu_files_and_credentials() -> None:
    pod = make_pod(command=["true"])
    requests = pod.containers[0].resources.requests
    requests.cpu_millicores = 250
    requests.memory_bytes = 128 * 2**20
    requests.extended["nvidia.com/gpu"] = "1"
    pod.volumes.add(
        name="kube-api-access",
        files=volume_pb2.FilesVolume(files=[volume_pb2.VolumeFile(path="token", content=b"t0k")], sensitive=True),
    )
    pod.image_pull_credentials.add(server="https://r.azurecr.io/", auth=base64.b64encode(b"u:p").decode())
    body = mapping.container_group(pod, make_config(gpu_sku="V100"), node_name="n")
    resources = body["properties"]["containers"][0]["properties"]["resources"]
    assert resources["requests"] == {"cpu": 0.25, "memoryInGB": 0.2, "gpu": {"count": 1, "sku": "V100"}}
    assert body["properties"]["volumes"] == [{"name": "kube-api-access", "secret": {"token": "dDBr"}}]
    assert body["properties"]["imageRegistryCredentials"] == [
        {"server": "r.azurecr.io", "username": "u", "password": "p"}
    ]


def test_group_names_are_unique_per_uid_and_valid() -> None:
    pod = make_pod()
    pod.metadata.name = "A_Very.Long-Name" * 5
    name = mapping.group_name(pod)
    assert len(name) <= 63
    assert name.endswith("0a1b2c3d000011112222333344445555")
    assert name == name.lower()


def _group(state: dict[str, object], *, restart: str = "Never", provisioning: str = "Succeeded") -> dict[str, object]:
    return {
        "properties": {
            "provisioningState": provisioning,
            "restartPolicy": restart,
            "ipAddress": {"ip": "10.0.0.4", "ports": [{"port": 80}]},
            "containers": [
                {
                    "name": "main",
                    "properties": {"image": "busybox", "instanceView": {"restartCount": 2, "currentState": state}},
                }
            ],
        }
    }


def test_status_of_running_and_exited_groups() -> None:
    running = status.pod_status(_group({"state": "Running", "startTime": "2025-01-01T00:00:00Z"}))
    assert running.phase == status_pb2.POD_PHASE_RUNNING
    assert running.pod_ips == ["10.0.0.4"]
    assert running.container_statuses[0].ready
    assert running.container_statuses[0].restart_count == 2
    exited = status.pod_status(_group({"state": "Terminated", "exitCode": 3, "detailStatus": "Error"}))
    assert exited.phase == status_pb2.POD_PHASE_FAILED
    assert exited.container_statuses[0].state.terminated.exit_code == 3
    assert exited.container_statuses[0].state.terminated.reason == "Error"
    always = status.pod_status(_group({"state": "Terminated", "exitCode": 0}, restart="Always"))
    assert always.phase == status_pb2.POD_PHASE_RUNNING
    failed = status.pod_status(_group({}, provisioning="Failed"), error_code="InaccessibleImage", error_message="m")
    assert (failed.phase, failed.reason) == (status_pb2.POD_PHASE_FAILED, "InaccessibleImage")
    waiting = status.pod_status(_group({"state": "Waiting", "detailStatus": "CrashLoopBackOff"}))
    assert waiting.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"


def test_log_lines_with_timestamps() -> None:
    entries = logs.parse("2025-01-01T00:00:00.123456789Z hello\nno time here\n")
    assert [e.content for e in entries] == [b"hello", b"no time here"]
    assert entries[0].time.nanos == 123456789
    assert not entries[1].HasField("time")

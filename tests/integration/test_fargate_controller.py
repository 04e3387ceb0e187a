"""The whole product on Fargate: vk-controller (as its node, against the session's real kube-apiserver) driving
vk-provider-fargate, which runs pods as ECS tasks on moto server (``moto_fixtures.py``, whose control API plays the
container runtime). Pods reach Running with the task ENI's IP, a task whose container exits 1 fails its pod with
that exit code, and deleting a pod stops its task before the pod object goes. Every pod keeps the default
``kube-api-access`` volume, so its token reaches the task through the pod's Secrets Manager secret, as a Secret's
value in an env var does; neither is ever in the task definition, and the secret is deleted with the pod.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.moto_fixtures import AWS_ENV, MotoBackend, moto_backend
from integration.stack_fixtures import Stack, controller_stack, wait_for
from vk_harness import ControlPlane
from vk_harness.processes import Process, free_port
from vk_harness.stack import ProviderProcess

#: Bounds for every wait: the provider polls moto every 0.2-1 s and the controller reacts to its watch stream, so
#: each step takes a second or two; these leave room for a loaded machine without hiding a hang.
STEP_TIMEOUT = 45.0


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoBackend]:
    with moto_backend(tmp_path_factory.mktemp("moto") / "moto.log") as backend:
        yield backend


@pytest.fixture
def fargate_stack(
    control_plane: ControlPlane, moto: MotoBackend, tmp_path: Path, namespace: str, node_name: str
) -> Iterator[Stack]:
    """vk-provider-fargate (against moto) and vk-controller as separate processes; yields once the node is Ready."""
    address = f"127.0.0.1:{free_port()}"
    process = Process(
        "fargate-provider",
        [str(Path(sys.executable).parent / "vk-provider-fargate"), "--listen", address, *moto.provider_args()],
        log_path=tmp_path / "fargate-provider.log",
        env={**os.environ, **AWS_ENV},
    )
    process.start()
    provider = ProviderProcess(process=process, address=address, state_file=None)
    try:
        provider.wait_ready()
        with controller_stack(
            control_plane, tmp_path, namespace, node_name, provider, ready_timeout=STEP_TIMEOUT
        ) as running:
            yield running
    finally:
        process.stop()


def create_fargate_pod(stack: Stack, name: str, *, restart_policy: str = "Always", **spec: Any) -> dict[str, Any]:
    """A one-container pod bound to the virtual node, with the ``kube-api-access`` volume the API server adds."""
    return stack.create_pod(name, command=["sleep", "3600"], restart_policy=restart_policy, **spec)


def logs(stack: Stack) -> str:
    return f"controller:\n{stack.controller.process.log_tail()}\nprovider:\n{stack.provider.process.log_tail()}"


def wait_task(moto: MotoBackend, stack: Stack, uid: str, what: str = "exist") -> dict[str, Any]:
    return wait_for(
        f"the ECS task of pod {uid} to {what}",
        lambda: moto.task_for(uid),
        timeout=STEP_TIMEOUT,
        describe=lambda: logs(stack),
    )


def eni_ip(task: dict[str, Any]) -> str:
    for attachment in task.get("attachments", []):
        if attachment.get("type") == "ElasticNetworkInterface":
            for detail in attachment.get("details", []):
                if detail.get("name") == "privateIPv4Address":
                    return str(detail["value"])
    raise AssertionError(f"task has no ENI private IP: {task.get('attachments')}")


def test_a_pod_runs_as_a_task_with_the_enis_ip(fargate_stack: Stack, moto: MotoBackend) -> None:
    name = f"running-{uuid.uuid4().hex[:6]}"
    uid = create_fargate_pod(fargate_stack, name)["metadata"]["uid"]
    moto.script(uid, stdout_lines=["hello from fargate"], exit_code=None)  # the container starts and keeps running

    pod = fargate_stack.wait_phase(name, "Running", timeout=STEP_TIMEOUT)
    task = wait_task(moto, fargate_stack, uid)
    address = eni_ip(task)
    assert pod["status"]["podIP"] == address, pod["status"]
    assert [entry["ip"] for entry in pod["status"]["podIPs"]] == [address]
    (container,) = pod["status"]["containerStatuses"]
    assert "running" in container["state"], container
    assert container["containerID"].startswith("fargate://")
    assert task["lastStatus"] == "RUNNING"
    tags = {t["key"]: t["value"] for t in task.get("tags", [])}
    assert tags.get("virtual-kubelet.io/pod-uid") == uid


def test_a_task_that_exits_1_fails_its_pod_with_the_exit_code(fargate_stack: Stack, moto: MotoBackend) -> None:
    name = f"exits-1-{uuid.uuid4().hex[:6]}"
    uid = create_fargate_pod(fargate_stack, name, restart_policy="Never")["metadata"]["uid"]
    moto.script(uid, stdout_lines=["about to fail"], exit_code=1)

    pod = fargate_stack.wait_phase(name, "Failed", timeout=STEP_TIMEOUT)
    (container,) = pod["status"]["containerStatuses"]
    terminated = container["state"].get("terminated")
    assert terminated is not None, container
    assert terminated["exitCode"] == 1, terminated
    assert terminated["reason"] == "Error", terminated
    task = wait_task(moto, fargate_stack, uid)
    assert task["lastStatus"] == "STOPPED"
    containers = {c["name"]: c for c in task["containers"]}
    assert containers["main"]["exitCode"] == 1
    assert containers["vk-files"]["exitCode"] == 0  # wrote kube-api-access before main started


def test_deleting_a_pod_stops_its_task(fargate_stack: Stack, moto: MotoBackend) -> None:
    name = f"deleted-{uuid.uuid4().hex[:6]}"
    uid = create_fargate_pod(fargate_stack, name)["metadata"]["uid"]
    moto.script(uid, exit_code=None)
    fargate_stack.wait_phase(name, "Running", timeout=STEP_TIMEOUT)
    assert wait_task(moto, fargate_stack, uid)["lastStatus"] == "RUNNING"

    fargate_stack.plane.rest.delete(f"/api/v1/namespaces/{fargate_stack.namespace}/pods/{name}")

    wait_for(
        f"pod {name} to be gone",
        lambda: fargate_stack.pod(name) is None,
        timeout=STEP_TIMEOUT,
        describe=lambda: f"pod: {fargate_stack.pod(name)}\n{logs(fargate_stack)}",
    )
    task = moto.task_for(uid)
    assert task is not None, "the task vanished from ECS instead of stopping"
    assert task["lastStatus"] == "STOPPED", task
    assert task["desiredStatus"] == "STOPPED", task
    assert str(task.get("stoppedReason", "")).startswith("virtual-kubelet:"), task.get("stoppedReason")


def test_a_secret_env_value_and_the_token_reach_the_task_only_through_secrets_manager(
    fargate_stack: Stack, moto: MotoBackend
) -> None:
    name = f"secret-env-{uuid.uuid4().hex[:6]}"
    password = f"pw-{uuid.uuid4().hex}"
    fargate_stack.plane.rest.create(
        f"/api/v1/namespaces/{fargate_stack.namespace}/secrets",
        {"metadata": {"name": name}, "stringData": {"password": password}},
    )
    env = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": name, "key": "password"}}}]
    created = fargate_stack.create_pod(
        name,
        command=["sleep", "3600"],
        containers=[{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"], "env": env}],
    )
    uid = created["metadata"]["uid"]
    assert any(v["name"].startswith("kube-api-access") for v in created["spec"]["volumes"]), created["spec"]
    moto.script(uid, exit_code=None)
    fargate_stack.wait_phase(name, "Running", timeout=STEP_TIMEOUT)

    task = wait_task(moto, fargate_stack, uid)
    described = moto.client("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"], include=["TAGS"])
    document = json.dumps(described, default=str)
    assert password not in document
    definitions = {d["name"]: d for d in described["taskDefinition"]["containerDefinitions"]}
    (secret,) = moto.secrets_for(uid)
    arn = secret["ARN"]
    assert secret["Name"] == f"virtual-kubelet/{fargate_stack.node}/{uid}"
    tags = {t["Key"]: t["Value"] for t in secret["Tags"]}
    assert tags["virtual-kubelet.io/node"] == fargate_stack.node
    assert (tags["virtual-kubelet.io/namespace"], tags["virtual-kubelet.io/name"]) == (fargate_stack.namespace, name)
    (reference,) = definitions["main"]["secrets"]
    assert reference["name"] == "PASSWORD"
    assert reference["valueFrom"].startswith(f"{arn}:")
    assert reference["valueFrom"].endswith("::")
    assert all(e["name"] != "PASSWORD" for e in definitions["main"].get("environment", []))
    values = json.loads(moto.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    assert values[reference["valueFrom"][len(arn) + 1 : -2]] == password
    helper = definitions["vk-files"]
    files = {ref["valueFrom"][len(arn) + 1 : -2] for ref in helper["secrets"]}
    assert len(files) == 3  # token, ca.crt, namespace of kube-api-access
    assert "/token" in helper["entryPoint"][2]
    for key in files:
        assert values[key] not in document
    assert fargate_stack.namespace.encode() in {base64.b64decode(values[key]) for key in files}

    fargate_stack.plane.rest.delete(f"/api/v1/namespaces/{fargate_stack.namespace}/pods/{name}")
    wait_for(
        f"pod {name} to be gone",
        lambda: fargate_stack.pod(name) is None,
        timeout=STEP_TIMEOUT,
        describe=lambda: logs(fargate_stack),
    )
    wait_for(
        f"the secret of pod {name} to be deleted",
        lambda: not moto.secrets_for(uid),
        timeout=STEP_TIMEOUT,
        describe=lambda: logs(fargate_stack),
    )
    assert (moto.task_for(uid) or {}).get("lastStatus") == "STOPPED"

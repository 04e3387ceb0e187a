"""vk-provider-fargate as a process against moto server (``moto_fixtures.py``): the conformance kit, adoption of
existing tasks after a restart (with their Secrets Manager secrets, and orphaned secrets deleted), batched status
polling with 500 pods, and refusals over gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from integration.moto_fixtures import AWS_ENV, CONTROL_ENV, MotoBackend, moto_backend
from integration.provider_fixtures import connected as shared_connected
from integration.provider_fixtures import protocol_pod
from integration.provider_fixtures import provider_process as shared_provider_process
from virtualkubelet.provider.v1 import (
    container_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    status_pb2,
    volume_pb2,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE = "fargate-test-node"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoBackend]:
    with moto_backend(tmp_path_factory.mktemp("moto") / "moto.log") as backend:
        yield backend


def provider_process(moto: MotoBackend, log_path: Path) -> contextlib.AbstractContextManager[str]:
    """vk-provider-fargate on a free port; yields its address once it listens."""
    return shared_provider_process("vk-provider-fargate", [*moto.provider_args()], log_path, env=AWS_ENV)


def connected(address: str) -> contextlib.AbstractAsyncContextManager[provider_pb2_grpc.ProviderServiceAsyncStub]:
    return shared_connected(address, NODE)


def kit_pod(name: str, **fields: object) -> pod_pb2.Pod:
    return protocol_pod(name, namespace="fargate-test", node=NODE, **fields)


async def snapshot(stub: provider_pb2_grpc.ProviderServiceAsyncStub) -> dict[str, status_pb2.PodRecord]:
    records: dict[str, status_pb2.PodRecord] = {}
    call = stub.WatchPods(pod_requests_pb2.WatchPodsRequest())
    async for event in call:
        if event.HasField("synced"):
            break
        records[event.pod.ref.uid] = event.pod
    call.cancel()
    return records


def test_the_conformance_kit_passes_on_moto(moto: MotoBackend, tmp_path: Path) -> None:
    with provider_process(moto, tmp_path / "provider.log") as address:
        run = subprocess.run(
            [
                str(BIN / "vk-conformance"),
                "--target",
                address,
                "--timeout",
                "30",
                "--hook",
                "tests.integration.moto_fixtures:ConformanceHook",
                "-v",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
            env={**os.environ, CONTROL_ENV: moto.control},
            check=False,
        )
    assert run.returncode == 0, f"vk-conformance failed against vk-provider-fargate:\n{run.stdout}\n{run.stderr}"
    assert "provider: fargate" in run.stdout
    assert "capabilities: logs(follow, since, tail_lines, limit_bytes, timestamps)" in run.stdout
    for check in ("test_a_pod_that_exits_3_ends_failed_with_exit_code_3", "test_logs_honour_since"):
        assert re.search(rf"::{check} PASSED\b", run.stdout), run.stdout


async def test_a_restarted_provider_adopts_its_tasks_instead_of_running_them_again(
    moto: MotoBackend, tmp_path: Path
) -> None:
    pods = [kit_pod(f"adopt-{index}") for index in range(3)]
    before = moto.counts().get("RunTask", 0)
    with provider_process(moto, tmp_path / "first.log") as address:
        async with connected(address) as stub:
            for pod in pods:
                await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
    assert moto.counts().get("RunTask", 0) == before + 3

    with provider_process(moto, tmp_path / "second.log") as address:
        async with connected(address) as stub:
            records = await snapshot(stub)
            for pod in pods:
                assert pod.metadata.uid in records, records.keys()
                record = records[pod.metadata.uid]
                assert (record.ref.namespace, record.ref.name, record.revision) == (
                    "fargate-test",
                    pod.metadata.name,
                    "r1",
                )
                assert record.status.pod_ips
                again = await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
                assert again.already_existed
            for pod in pods:
                ref = pod_pb2.PodRef(uid=pod.metadata.uid, namespace="fargate-test", name=pod.metadata.name)
                await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref, grace_period_seconds=0), timeout=30)
    assert moto.counts().get("RunTask", 0) == before + 3
    assert "adopted 3 task(s)" in (tmp_path / "second.log").read_text()


async def wait_until(what: str, probe: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_a_pods_secret_outlives_a_restart_until_the_pod_is_deleted_and_orphans_are_deleted(
    moto: MotoBackend, tmp_path: Path
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    env = container_pb2.EnvVar(name="PASSWORD", value=password, sensitive=True)
    pod = kit_pod("with-secret")
    pod.containers[0].env.append(env)
    secrets = moto.client("secretsmanager")
    orphan_uid = str(uuid.uuid4())
    orphan = secrets.create_secret(
        Name=f"virtual-kubelet/{NODE}/{orphan_uid}",
        SecretString="{}",
        Tags=[
            {"Key": "virtual-kubelet.io/node", "Value": NODE},
            {"Key": "virtual-kubelet.io/pod-uid", "Value": orphan_uid},
        ],
    )["ARN"]
    secrets.create_secret(  # a registry secret of the same interrupted create: deleted with it
        Name=f"virtual-kubelet/{NODE}/{orphan_uid}/registry-0",
        SecretString="{}",
        Tags=[
            {"Key": "virtual-kubelet.io/node", "Value": NODE},
            {"Key": "virtual-kubelet.io/pod-uid", "Value": orphan_uid},
        ],
    )
    with provider_process(moto, tmp_path / "first.log") as address:
        async with connected(address) as stub:
            await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
    assert not moto.secrets_for(orphan_uid), "the first provider's adoption did not delete the orphaned secret"
    (secret,) = moto.secrets_for(pod.metadata.uid)
    assert json.loads(secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"]) == {"v0": password}
    task = moto.task_for(pod.metadata.uid)
    assert task is not None
    described = moto.client("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    assert password not in json.dumps(described, default=str)
    (main,) = described["taskDefinition"]["containerDefinitions"]
    assert main["secrets"] == [{"name": "PASSWORD", "valueFrom": f"{secret['ARN']}:v0::"}]
    assert orphan != secret["ARN"]

    with provider_process(moto, tmp_path / "second.log") as address:
        async with connected(address) as stub:
            assert pod.metadata.uid in await snapshot(stub)
            assert moto.secrets_for(pod.metadata.uid), "adoption deleted the secret of a running task"
            ref = pod_pb2.PodRef(uid=pod.metadata.uid, namespace="fargate-test", name=pod.metadata.name)
            await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref, grace_period_seconds=0), timeout=30)
            await wait_until("the secret to be deleted", lambda: not moto.secrets_for(pod.metadata.uid))


async def test_image_pull_credentials_go_to_a_registry_secret_deleted_with_the_pod(
    moto: MotoBackend, tmp_path: Path
) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    credential = pod_pb2.ImagePullCredential(server="https://index.docker.io/v1/", username="puller", password=password)
    other = pod_pb2.ImagePullCredential(server="elsewhere.example", username="x", password="unused-pw")
    pod = kit_pod("pull-secret", image_pull_credentials=[other, credential])
    uid = pod.metadata.uid
    secrets = moto.client("secretsmanager")
    with provider_process(moto, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
            (secret,) = moto.secrets_for(uid)
            assert secret["Name"] == f"virtual-kubelet/{NODE}/{uid}/registry-0"
            tags = {t["Key"]: t["Value"] for t in secret["Tags"]}
            assert tags["virtual-kubelet.io/node"] == NODE
            assert tags["virtual-kubelet.io/name"] == "pull-secret"
            value = json.loads(secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"])
            assert value == {"username": "puller", "password": password}
            task = moto.task_for(uid)
            assert task is not None
            described = moto.client("ecs").describe_task_definition(taskDefinition=task["taskDefinitionArn"])
            assert password not in json.dumps(described, default=str)
            (main,) = described["taskDefinition"]["containerDefinitions"]
            assert main["repositoryCredentials"] == {"credentialsParameter": secret["ARN"]}
            ref = pod_pb2.PodRef(uid=uid, namespace="fargate-test", name=pod.metadata.name)
            await stub.DeletePod(pod_requests_pb2.DeletePodRequest(pod=ref, grace_period_seconds=0), timeout=30)
            await wait_until("the registry secret to be deleted", lambda: not moto.secrets_for(uid))


async def test_500_pods_are_polled_in_batches_of_100(moto: MotoBackend, tmp_path: Path) -> None:
    pods = [kit_pod(f"many-{index}") for index in range(500)]
    with provider_process(moto, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            limit = asyncio.Semaphore(16)

            async def create(pod: pod_pb2.Pod) -> None:
                async with limit:
                    await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=60)

            await asyncio.gather(*(create(pod) for pod in pods))
            assert len(await snapshot(stub)) >= 500
            await asyncio.sleep(1.5)  # let the poller settle into full rounds
            start = moto.counts().get("DescribeTasks", 0)
            window = 4.0
            await asyncio.sleep(window)
            calls = moto.counts().get("DescribeTasks", 0) - start
    # One call per pod per round would be 500 per round; batched, a round is 5 calls, and rounds come at least
    # --poll-interval (0.2 s) apart.
    rounds_at_most = window / 0.2 + 1
    assert 5 <= calls <= 5 * rounds_at_most, calls
    assert calls < 500


REFUSED: list[tuple[str, dict[str, object], str]] = [
    (
        "host-path",
        {"volumes": [volume_pb2.Volume(name="h", unsupported=volume_pb2.UnsupportedVolume(kind="hostPath"))]},
        "spec.volumes[0].hostPath: hostPath volumes are not supported by AWS Fargate",
    ),
    ("host-network", {"host_network": True}, "spec.hostNetwork: host networking is not supported by AWS Fargate"),
    (
        "secret-too-big",
        {
            "volumes": [
                volume_pb2.Volume(
                    name="big",
                    files=volume_pb2.FilesVolume(
                        sensitive=True, files=[volume_pb2.VolumeFile(path="k", content=b"pw" * 40000, sensitive=True)]
                    ),
                )
            ]
        },
        "Secrets Manager secret, which holds at most 65536 bytes",
    ),
    (
        "pull-identity-token",
        {"image_pull_credentials": [pod_pb2.ImagePullCredential(server="docker.io", identity_token="pw-token")]},
        "spec.imagePullSecrets: the credentials for 'docker.io' are an identity token, which ECS cannot use",
    ),
]


@pytest.mark.parametrize(("name", "fields", "expected"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_unsupported_pods_are_refused_readably_and_leave_nothing(
    moto: MotoBackend, tmp_path: Path, name: str, fields: dict[str, object], expected: str
) -> None:
    pod = kit_pod(name, **fields)
    before = moto.counts().get("RunTask", 0)
    with provider_process(moto, tmp_path / "provider.log") as address:
        async with connected(address) as stub:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=pod), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert expected in (refused.value.details() or "")
    assert "pw" not in (refused.value.details() or "")
    assert moto.counts().get("RunTask", 0) == before
    assert not moto.secrets_for(pod.metadata.uid)

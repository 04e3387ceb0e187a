"""The kit's pods: ordinary specs any real backend can run, unique per run, and deleted when the run ends.

Every pod is ``busybox:1.36`` running an ``sh -c`` script of ``echo``, ``sleep`` and ``exit`` (a simulated backend
learns the outcome from the hook instead), restart policy Never, 250m CPU and 128Mi memory. Namespaces and names
are unique per run and UIDs random, so runs against the same provider never collide, and every UID the kit sends
is remembered so that the bookkeeping checks can tell the kit's pods from pods the provider was never sent.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import (
    container_pb2,
    pod_pb2,
    pod_requests_pb2,
    provider_pb2_grpc,
    status_pb2,
    volume_pb2,
)
from vk_conformance import describe
from vk_conformance.connection import Settings
from vk_conformance.expect import fail
from vk_conformance.hook import Expectation, ScriptedOutcomes
from vk_conformance.watch import PodWatch

IMAGE = "busybox:1.36"
CONTAINER = "main"
CPU_MILLICORES = 250
MEMORY_BYTES = 128 * 1024 * 1024
#: Short, so that deleting a pod whose shell ignores SIGTERM (PID 1) does not hold a backend for 30 s.
GRACE_SECONDS = 2
ECHO_PORT = 8080
HELLO = "conformance-hello"
STARTED = "started"


@dataclass(frozen=True)
class KitPod:
    """A pod the kit creates, with what it expects the pod to do (``None``: it expects a refusal)."""

    pod: pod_pb2.Pod
    expectation: Expectation | None

    @property
    def uid(self) -> str:
        return self.pod.metadata.uid

    @property
    def ref(self) -> pod_pb2.PodRef:
        meta = self.pod.metadata
        return pod_pb2.PodRef(uid=meta.uid, namespace=meta.namespace, name=meta.name)

    def __str__(self) -> str:
        return describe.pod(self.pod)


def container_status(record: status_pb2.PodRecord, name: str = CONTAINER) -> status_pb2.ContainerStatus | None:
    for status in record.status.container_statuses:
        if status.name == name:
            return status
    return None


def is_running(record: status_pb2.PodRecord) -> bool:
    status = container_status(record)
    return (
        record.status.phase == status_pb2.POD_PHASE_RUNNING
        and status is not None
        and status.state.WhichOneof("state") == "running"
    )


def is_terminated(record: status_pb2.PodRecord) -> bool:
    status = container_status(record)
    return status is not None and status.state.WhichOneof("state") == "terminated"


def is_finished(record: status_pb2.PodRecord) -> bool:
    """The container has terminated and the phase is terminal (what a Never pod reaches on its own)."""
    return is_terminated(record) and record.status.phase in (
        status_pb2.POD_PHASE_SUCCEEDED,
        status_pb2.POD_PHASE_FAILED,
    )


class PodFactory:
    """Builds the kit's pods, creates them (calling the hook first) and deletes them all at the end."""

    def __init__(
        self,
        stub: provider_pb2_grpc.ProviderServiceAsyncStub,
        *,
        settings: Settings,
        hook: ScriptedOutcomes,
        watch: PodWatch,
    ) -> None:
        self._stub = stub
        self._settings = settings
        self._hook = hook
        self._watch = watch
        self.run_id = secrets.token_hex(3)
        self.namespace = f"conformance-{self.run_id}"
        self._count = 0
        #: Every pod the kit sent in a CreatePod, accepted or not, by UID.
        self._sent: dict[str, pod_pb2.PodRef] = {}
        #: UIDs the kit expects to be refused: the provider must never report them.
        self.refused_uids: set[str] = set()

    @property
    def sent_uids(self) -> set[str]:
        return set(self._sent)

    def name(self, uid: str) -> str | None:
        """``namespace/name`` of a pod the kit sent."""
        ref = self._sent.get(uid)
        return f"{ref.namespace}/{ref.name}" if ref is not None else None

    # Specs -------------------------------------------------------------------------------------------------------

    def exits(self, purpose: str, *, lines: Sequence[str] = (HELLO,), code: int = 3) -> KitPod:
        """A pod that prints ``lines`` and exits with ``code``."""
        script = "; ".join([*(f"echo {line}" for line in lines), f"exit {code}"])
        return KitPod(self.build(purpose, script), Expectation(CONTAINER, tuple(lines), code))

    def runs(self, purpose: str) -> KitPod:
        """A pod that prints ``started`` and sleeps until deleted."""
        script = f"echo {STARTED}; sleep 3600"
        return KitPod(self.build(purpose, script), Expectation(CONTAINER, (STARTED,), None))

    def echo_server(self, purpose: str) -> KitPod:
        """A pod that prints ``started`` and serves a TCP echo on :data:`ECHO_PORT` until deleted (busybox tcpsvd runs
        ``cat`` on every connection, its stdin and stdout being the connection)."""
        script = f"echo {STARTED}; tcpsvd 0.0.0.0 {ECHO_PORT} cat"
        pod = self.build(purpose, script, ports=(ECHO_PORT,))
        return KitPod(pod, Expectation(CONTAINER, (STARTED,), None, echo_port=ECHO_PORT))

    def refused(
        self, purpose: str, *, volumes: Sequence[volume_pb2.Volume] = (), restart_policy: int | None = None
    ) -> KitPod:
        """A pod the provider must refuse (no expectation, so the hook is not called)."""
        pod = self.build(purpose, f"echo {HELLO}; exit 0", volumes=volumes)
        if restart_policy is not None:
            pod.restart_policy = restart_policy  # type: ignore[assignment]
        return KitPod(pod, None)

    def build(
        self,
        purpose: str,
        script: str,
        *,
        volumes: Sequence[volume_pb2.Volume] = (),
        ports: Sequence[int] = (),
    ) -> pod_pb2.Pod:
        self._count += 1
        name = f"{purpose}-{self._count}"
        uid = str(uuid.uuid4())
        resources = container_pb2.ResourceList(cpu_millicores=CPU_MILLICORES, memory_bytes=MEMORY_BYTES)
        container = container_pb2.Container(
            name=CONTAINER,
            image=IMAGE,
            image_pull_policy=container_pb2.IMAGE_PULL_POLICY_IF_NOT_PRESENT,
            command=["sh", "-c", script],
            resources=container_pb2.ResourceRequirements(requests=resources, limits=resources),
            ports=[
                container_pb2.ContainerPort(container_port=port, protocol=container_pb2.PORT_PROTOCOL_TCP)
                for port in ports
            ],
            volume_mounts=[
                container_pb2.VolumeMount(name=volume.name, mount_path=f"/mnt/{volume.name}") for volume in volumes
            ],
            termination_message_path="/dev/termination-log",
            termination_message_policy=container_pb2.TERMINATION_MESSAGE_POLICY_FILE,
        )
        created = timestamp_pb2.Timestamp()
        created.GetCurrentTime()
        return pod_pb2.Pod(
            metadata=pod_pb2.PodMetadata(
                uid=uid,
                namespace=self.namespace,
                name=name,
                labels={"app.kubernetes.io/managed-by": "vk-conformance", "vk-conformance/run": self.run_id},
                creation_time=created,
            ),
            revision="conformance-1",
            containers=[container],
            volumes=list(volumes),
            restart_policy=pod_pb2.RESTART_POLICY_NEVER,
            termination_grace_period_seconds=GRACE_SECONDS,
            dns_policy=pod_pb2.DNS_POLICY_DEFAULT,
            hostname=name,
            service_account_name="default",
            node_name=self._settings.node_name,
        )

    # Calls ---------------------------------------------------------------------------------------------------------

    async def create(self, kit_pod: KitPod) -> pod_requests_pb2.CreatePodResponse:
        """Create a pod the kit expects to run; any error fails the check that asked for it."""
        try:
            return await self.create_call(kit_pod)
        except grpc.aio.AioRpcError as error:
            fail(f"expected CreatePod of {kit_pod} ({IMAGE}, sh -c) to succeed; got {describe.rpc_error(error)}")

    async def create_call(self, kit_pod: KitPod) -> pod_requests_pb2.CreatePodResponse:
        """CreatePod as is (errors raise ``grpc.aio.AioRpcError``), with the hook called first."""
        if kit_pod.expectation is not None:
            await self._hook.before_create(kit_pod.pod, kit_pod.expectation)
        else:
            self.refused_uids.add(kit_pod.uid)
        self._sent[kit_pod.uid] = kit_pod.ref
        request = pod_requests_pb2.CreatePodRequest(pod=kit_pod.pod)
        return await self._stub.CreatePod(request, timeout=self._settings.unary_deadline)

    async def delete(
        self, ref: pod_pb2.PodRef, *, grace_period_seconds: int | None = None
    ) -> pod_requests_pb2.DeletePodResponse:
        request = pod_requests_pb2.DeletePodRequest(
            pod=ref, grace_period_seconds=grace_period_seconds, reason=pod_requests_pb2.DELETION_REASON_POD_DELETED
        )
        return await self._stub.DeletePod(request, timeout=self._settings.unary_deadline)

    async def delete_all(self) -> list[str]:
        """Delete every pod the kit sent (grace 0; refused ones too, in case the provider kept one) and wait until
        each is gone; the problems met, if any."""
        problems: list[str] = []
        waiting: list[pod_pb2.PodRef] = []
        for ref in self._sent.values():
            try:
                response = await self.delete(ref, grace_period_seconds=0)
            except grpc.aio.AioRpcError as error:
                problems.append(f"DeletePod of {describe.ref(ref)} failed with {describe.rpc_error(error)}")
                continue
            if response.state == pod_requests_pb2.DELETION_STATE_TERMINATING and self._watch.broken is None:
                waiting.append(ref)
        for ref in waiting:
            try:
                await self._watch.wait_for_deleted(ref.uid, f"pod {describe.ref(ref)} to be deleted after the run")
            except pytest.fail.Exception as failure:
                problems.append(str(failure))
        return problems


async def wait_running(watch: PodWatch, kit_pod: KitPod) -> status_pb2.PodRecord:
    """The pod's first record with phase RUNNING and its container running."""

    def finished(record: status_pb2.PodRecord) -> str | None:
        if record.status.phase in (status_pb2.POD_PHASE_SUCCEEDED, status_pb2.POD_PHASE_FAILED):
            return "and a pod in a terminal phase never runs again"
        return None

    script = kit_pod.pod.containers[0].command[-1]
    return await watch.wait_for(
        kit_pod.uid,
        f"pod {kit_pod} (sh -c {script!r}) to reach phase RUNNING with container {CONTAINER!r} running",
        is_running,
        hopeless=finished,
    )


async def wait_finished(watch: PodWatch, kit_pod: KitPod) -> status_pb2.PodRecord:
    """The pod's first record with its container terminated and a terminal phase."""
    code = kit_pod.expectation.exit_code if kit_pod.expectation is not None else None
    script = kit_pod.pod.containers[0].command[-1]
    outcome = "SUCCEEDED" if code == 0 else "FAILED"
    return await watch.wait_for(
        kit_pod.uid,
        f"container {CONTAINER!r} of {kit_pod} (sh -c {script!r}, restart policy Never) to terminate "
        f"and the phase to become {outcome}",
        is_finished,
    )


async def list_pods(stub: provider_pb2_grpc.ProviderServiceAsyncStub, *, deadline: float) -> list[status_pb2.PodRecord]:
    """Every record ListPods returns, following next_page_token."""
    records: list[status_pb2.PodRecord] = []
    token = ""
    for _ in range(10_000):
        request = pod_requests_pb2.ListPodsRequest(page_token=token)
        try:
            response = await stub.ListPods(request, timeout=deadline)
        except grpc.aio.AioRpcError as error:
            fail(f"expected ListPods to succeed; got {describe.rpc_error(error)}")
        records.extend(response.pods)
        if not response.next_page_token:
            return records
        if response.next_page_token == token:
            fail(f"expected ListPods pages to advance; got next_page_token {token!r} twice in a row")
        token = response.next_page_token
    fail("expected ListPods to reach its last page; got 10000 pages")

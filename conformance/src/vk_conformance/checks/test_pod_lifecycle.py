"""Pod lifecycle: idempotent create, the status a finished pod reaches, reads, and asynchronous idempotent delete
(pod_requests.proto, status.proto; docs/protocol.md "Pods" and "Status")."""

from __future__ import annotations

import uuid

import grpc
import pytest

from virtualkubelet.provider.v1 import handshake_pb2, pod_pb2, pod_requests_pb2, provider_pb2_grpc, status_pb2
from vk_conformance import describe
from vk_conformance.connection import Settings
from vk_conformance.expect import answer, fail, refusal
from vk_conformance.plugin import RunningPod
from vk_conformance.pods import (
    CONTAINER,
    KitPod,
    PodFactory,
    container_status,
    list_pods,
    wait_finished,
    wait_running,
)
from vk_conformance.watch import PodWatch

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _unknown_ref() -> pod_pb2.PodRef:
    return pod_pb2.PodRef(uid=str(uuid.uuid4()), namespace="conformance-unknown", name="never-created")


def _check_exit(record: status_pb2.PodRecord, *, code: int, phase: int) -> None:
    expected = f"container {CONTAINER!r} terminated with exit code {code} and phase {describe.phase(phase)}"
    status = container_status(record)
    if status is None:
        fail(f"expected {expected}; got no status for container {CONTAINER!r} ({describe.record(record)})")
    terminated = status.state.terminated
    if not terminated.HasField("exit_code"):
        fail(f"expected {expected}; got the exit code unset (unknown) ({describe.record(record)})")
    if terminated.exit_code != code or record.status.phase != phase:
        fail(f"expected {expected}; got {describe.record(record)}")


async def test_a_pod_that_exits_3_ends_failed_with_exit_code_3(exited_pod: KitPod, watch: PodWatch) -> None:
    record = await wait_finished(watch, exited_pod)
    _check_exit(record, code=3, phase=status_pb2.POD_PHASE_FAILED)


async def test_a_pod_that_exits_0_ends_succeeded(pods: PodFactory, watch: PodWatch) -> None:
    kit_pod = pods.exits("exits-0", code=0)
    await pods.create(kit_pod)
    record = await wait_finished(watch, kit_pod)
    _check_exit(record, code=0, phase=status_pb2.POD_PHASE_SUCCEEDED)


async def test_a_long_running_pod_reaches_running(running_pod: RunningPod, watch: PodWatch) -> None:
    record = await wait_running(watch, running_pod.kit_pod)
    if (
        record.ref.namespace != running_pod.kit_pod.pod.metadata.namespace
        or record.ref.name != running_pod.kit_pod.pod.metadata.name
    ):
        fail(
            f"expected the record's ref to carry the pod's namespace and name ({running_pod.kit_pod}); "
            f"got {describe.ref(record.ref)}"
        )


async def test_create_is_idempotent_by_uid(
    running_pod: RunningPod, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    kit_pod = running_pod.kit_pod
    if running_pod.first_create.already_existed:
        fail(f"expected the first CreatePod of the new UID {kit_pod.uid} to answer already_existed=false; got true")
    again = pod_pb2.Pod()
    again.CopyFrom(kit_pod.pod)
    again.revision = "conformance-2"
    second = await answer(
        f"a second CreatePod of {kit_pod} (same UID; never ALREADY_EXISTS)",
        stub.CreatePod(pod_requests_pb2.CreatePodRequest(pod=again), timeout=settings.unary_deadline),
    )
    if not second.already_existed:
        fail(
            "expected a second CreatePod of the same UID to answer already_existed=true; "
            f"got {describe.status(second.status)} with already_existed=false"
        )
    listed = [
        record for record in await list_pods(stub, deadline=settings.unary_deadline) if record.ref.uid == kit_pod.uid
    ]
    if len(listed) != 1:
        fail(f"expected ListPods to show the pod created twice exactly once; got it {len(listed)} times")
    if listed[0].revision == "conformance-2":
        fail(
            "expected the second CreatePod to change nothing (the controller sends UpdatePod for a new revision); "
            "got the revision of the second request in ListPods"
        )


async def test_get_pod_and_get_pod_status_describe_a_created_pod(
    running_pod: RunningPod, watch: PodWatch, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    kit_pod = running_pod.kit_pod
    await wait_running(watch, kit_pod)
    got = await answer(
        f"GetPod of {kit_pod}",
        stub.GetPod(pod_requests_pb2.GetPodRequest(pod=kit_pod.ref), timeout=settings.unary_deadline),
    )
    if got.pod.ref.uid != kit_pod.uid:
        fail(f"expected GetPod to return the record of uid {kit_pod.uid}; got {describe.ref(got.pod.ref)}")
    if got.pod.revision not in ("", kit_pod.pod.revision):
        fail(
            f"expected GetPod's revision to be {kit_pod.pod.revision!r} (or empty if not stored); "
            f"got {got.pod.revision!r}"
        )
    status = await answer(
        f"GetPodStatus of {kit_pod}",
        stub.GetPodStatus(pod_requests_pb2.GetPodStatusRequest(pod=kit_pod.ref), timeout=settings.unary_deadline),
    )
    if status.status.phase != status_pb2.POD_PHASE_RUNNING:
        fail(
            "expected GetPodStatus of a running pod to say phase RUNNING (as WatchPods did); "
            f"got {describe.status(status.status)}"
        )


async def test_get_pod_of_an_unknown_uid_is_not_found(
    handshake: handshake_pb2.HandshakeResponse, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await refusal(
        "GetPod of a UID the provider was never sent",
        stub.GetPod(pod_requests_pb2.GetPodRequest(pod=_unknown_ref()), timeout=settings.unary_deadline),
        (grpc.StatusCode.NOT_FOUND,),
    )


async def test_get_pod_status_of_an_unknown_uid_is_not_found(
    handshake: handshake_pb2.HandshakeResponse, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await refusal(
        "GetPodStatus of a UID the provider was never sent",
        stub.GetPodStatus(pod_requests_pb2.GetPodStatusRequest(pod=_unknown_ref()), timeout=settings.unary_deadline),
        (grpc.StatusCode.NOT_FOUND,),
    )


async def test_delete_of_an_unknown_uid_answers_gone(
    handshake: handshake_pb2.HandshakeResponse, pods: PodFactory
) -> None:
    expected = "DeletePod of a UID the provider was never sent to answer OK with state GONE (never NOT_FOUND)"
    try:
        response = await pods.delete(_unknown_ref())
    except grpc.aio.AioRpcError as error:
        fail(f"expected {expected}; got {describe.rpc_error(error)}")
    if response.state != pod_requests_pb2.DELETION_STATE_GONE:
        fail(f"expected {expected}; got state {describe.enum_name(pod_requests_pb2.DeletionState, response.state)}")


async def test_delete_completes_and_the_pod_is_gone(
    pods: PodFactory, watch: PodWatch, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    kit_pod = pods.runs("deleted")
    await pods.create(kit_pod)
    await wait_running(watch, kit_pod)

    response = await answer(f"DeletePod of {kit_pod}", pods.delete(kit_pod.ref))
    state = response.state
    if state == pod_requests_pb2.DELETION_STATE_TERMINATING:
        await _check_terminating_record(kit_pod, stub, settings)
        event = await watch.wait_for_deleted(
            kit_pod.uid, f"a `deleted` event for {kit_pod} after DeletePod answered TERMINATING"
        )
        if not event.requested:
            fail(
                "expected the `deleted` event that completes a DeletePod to have requested=true; "
                f"got {describe.deleted(event)}"
            )
    elif state != pod_requests_pb2.DELETION_STATE_GONE:
        fail(
            "expected DeletePod to answer GONE or TERMINATING; "
            f"got {describe.enum_name(pod_requests_pb2.DeletionState, state)}"
        )

    listed = {record.ref.uid for record in await list_pods(stub, deadline=settings.unary_deadline)}
    if kit_pod.uid in listed:
        fail(f"expected {kit_pod} to be absent from ListPods once deleted; it is still listed")
    await refusal(
        f"GetPod of {kit_pod} once deleted",
        stub.GetPod(pod_requests_pb2.GetPodRequest(pod=kit_pod.ref), timeout=settings.unary_deadline),
        (grpc.StatusCode.NOT_FOUND,),
    )
    again = await answer(f"a repeated DeletePod of {kit_pod} (idempotent)", pods.delete(kit_pod.ref))
    if again.state != pod_requests_pb2.DELETION_STATE_GONE:
        fail(
            "expected a repeated DeletePod of a pod that is gone to answer GONE; "
            f"got {describe.enum_name(pod_requests_pb2.DeletionState, again.state)}"
        )


async def _check_terminating_record(
    kit_pod: KitPod, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    """While terminating, the pod is either already gone or its record says ``deleting``."""
    try:
        got = await stub.GetPod(pod_requests_pb2.GetPodRequest(pod=kit_pod.ref), timeout=settings.unary_deadline)
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return
        fail(
            "expected GetPod of a terminating pod to answer its record (or NOT_FOUND once gone); "
            f"got {describe.rpc_error(error)}"
        )
    if not got.pod.deleting:
        fail(
            "expected the record of a pod whose DeletePod answered TERMINATING to have deleting=true; "
            f"got {describe.record(got.pod)}"
        )

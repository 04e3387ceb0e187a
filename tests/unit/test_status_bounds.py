"""A provider's free text is bounded before it reaches the pod's status (the kubelet's 4 KiB per message)."""

from __future__ import annotations

from virtualkubelet.provider.v1 import pod_pb2, status_pb2
from vk_controller.provider.records import ProviderPod
from vk_controller.provider.status import MAX_MESSAGE_BYTES, MAX_REASON_BYTES, clamp, container_status_json


def test_clamp_keeps_short_text_and_cuts_long_text_on_a_character_boundary() -> None:
    assert clamp("fine", 10) == "fine"
    cut = clamp("é" * 100, 41)
    assert cut.endswith(" [truncated]")
    assert len(cut.encode()) <= 41
    assert set(cut.removesuffix(" [truncated]")) == {"é"}


def test_oversized_pod_and_container_messages_are_clamped() -> None:
    huge = "x" * (3 * 1024 * 1024)
    status = status_pb2.PodStatus(phase=status_pb2.POD_PHASE_FAILED, reason="R" * 1000, message=huge)
    record = ProviderPod.from_status(pod_pb2.PodRef(uid="u", namespace="n", name="p"), "r", status)

    written = record.kubernetes_status({"containers": []})

    assert len(written["message"].encode()) <= MAX_MESSAGE_BYTES
    assert len(written["reason"].encode()) <= MAX_REASON_BYTES
    terminated = status_pb2.ContainerStateTerminated(exit_code=1, reason="E" * 500, message=huge)
    container = status_pb2.ContainerStatus(name="main", state=status_pb2.ContainerState(terminated=terminated))
    state = container_status_json(container, "busybox")["state"]["terminated"]
    assert len(state["message"].encode()) <= MAX_MESSAGE_BYTES
    assert len(state["reason"].encode()) <= MAX_REASON_BYTES
    assert state["message"].startswith("xxx")

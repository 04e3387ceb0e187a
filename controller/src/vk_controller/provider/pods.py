"""Pod lifecycle calls on the provider, in the controller's terms: Kubernetes pod JSON in, ProviderPod out."""

from __future__ import annotations

from typing import Any, Literal

from virtualkubelet.provider.v1 import pod_pb2, pod_requests_pb2
from vk_controller.pods.resolved import ResolvedPod
from vk_controller.provider.client import ProviderClient
from vk_controller.provider.records import ProviderPod, pod_ref
from vk_controller.provider.topod import to_provider_pod

DeleteReason = Literal["deleted", "deadline", "orphaned"]

_REASONS = {
    "deleted": pod_requests_pb2.DELETION_REASON_POD_DELETED,
    "deadline": pod_requests_pb2.DELETION_REASON_ACTIVE_DEADLINE,
    "orphaned": pod_requests_pb2.DELETION_REASON_ORPHANED,
}


def _ref(message: pod_pb2.Pod) -> pod_pb2.PodRef:
    meta = message.metadata
    return pod_ref(meta.uid, meta.namespace, meta.name)


class ProviderPods:
    def __init__(self, client: ProviderClient, *, include_pod_json: bool = False) -> None:
        self._client = client
        self._include_json = include_pod_json

    async def create(self, pod: dict[str, Any], *, revision: str, resolved: ResolvedPod | None) -> ProviderPod:
        message = to_provider_pod(pod, revision=revision, resolved=resolved, include_json=self._include_json)
        response = await self._client.create_pod(message)
        return ProviderPod.from_status(_ref(message), revision, response.status)

    async def update(self, pod: dict[str, Any], *, revision: str, resolved: ResolvedPod | None) -> ProviderPod:
        message = to_provider_pod(pod, revision=revision, resolved=resolved, include_json=self._include_json)
        response = await self._client.update_pod(message)
        return ProviderPod.from_status(_ref(message), revision, response.status)

    async def delete(
        self, uid: str, namespace: str, name: str, *, grace_period_seconds: int | None, reason: DeleteReason
    ) -> bool:
        """Ask the provider to delete the pod; True when it answers that the pod is gone already."""
        response = await self._client.delete_pod(
            pod_ref(uid, namespace, name), grace_period_seconds=grace_period_seconds, reason=_REASONS[reason]
        )
        return bool(response.state == pod_requests_pb2.DELETION_STATE_GONE)

"""What the provider has, as its status stream last told us: one record per pod UID.

The stream starts with a snapshot (one record per pod, then ``synced``). Until that snapshot is complete the
state is not trusted: absence means nothing, so no pod is created, declared lost or deleted as an orphan because
of it. After a reconnect the new snapshot replaces the old one; pods that were in the old one and not in the new
one are gone, and reported so.
"""

from __future__ import annotations

from dataclasses import dataclass

from vk_controller.provider.client import PodGone
from vk_controller.provider.records import ProviderPod


@dataclass(frozen=True)
class Loss:
    """Why a pod disappeared from the provider without being deleted."""

    reason: str
    message: str


class ProviderState:
    def __init__(self) -> None:
        self._pods: dict[str, ProviderPod] = {}
        self._by_key: dict[str, str] = {}
        self._snapshot: set[str] | None = None
        self._lost: dict[str, Loss] = {}
        self.synced = False

    def __len__(self) -> int:
        return len(self._pods)

    def get(self, uid: str) -> ProviderPod | None:
        return self._pods.get(uid)

    def uid_for_key(self, key: str) -> str | None:
        return self._by_key.get(key)

    def pods(self) -> list[ProviderPod]:
        return list(self._pods.values())

    def lost(self, uid: str) -> Loss | None:
        return self._lost.get(uid)

    def begin_snapshot(self) -> None:
        """A (re)connected stream is about to send its snapshot."""
        self.synced = False
        self._snapshot = set()

    def put(self, pod: ProviderPod) -> None:
        self._pods[pod.uid] = pod
        self._by_key[pod.key] = pod.uid
        self._lost.pop(pod.uid, None)
        if self._snapshot is not None:
            self._snapshot.add(pod.uid)

    def remove(self, gone: PodGone) -> ProviderPod | None:
        pod = self._pods.pop(gone.ref.uid, None)
        key = f"{gone.ref.namespace}/{gone.ref.name}"
        if self._by_key.get(key) == gone.ref.uid:
            del self._by_key[key]
        if not gone.requested:
            self._lost[gone.ref.uid] = Loss(gone.reason or "ProviderLost", gone.message or "the provider lost the pod")
        return pod

    def forget(self, uid: str) -> None:
        """Forget a pod the provider confirmed gone in a DeletePod answer."""
        pod = self._pods.pop(uid, None)
        if pod is not None and self._by_key.get(pod.key) == uid:
            del self._by_key[pod.key]

    def end_snapshot(self) -> list[ProviderPod]:
        """The snapshot is complete: drop (and return) pods the previous stream had and this one does not."""
        seen = self._snapshot or set()
        self._snapshot = None
        vanished = [pod for uid, pod in self._pods.items() if uid not in seen]
        for pod in vanished:
            self.remove(PodGone(ref=pod.ref, requested=False, reason="ProviderLost", message="", final_status=None))
            self._lost[pod.uid] = Loss("ProviderLost", "the provider no longer has this pod after reconnecting")
        self.synced = True
        return vanished

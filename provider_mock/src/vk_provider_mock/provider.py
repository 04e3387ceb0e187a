"""The mock provider: the whole protocol, in memory, deterministic, on the SDK.

Each pod is a :class:`~vk_provider_mock.runtime.MockPod` (a state machine over timestamps). The provider owns one
timer per pod, set to the pod's next transition or status change; when it fires, the pod advances, its new record
is published to the status hub (unchanged records are dropped there), the state file is marked dirty and followers
(logs, attach) are woken. Every RPC that changes a pod goes through the same path (:meth:`MockProvider._touch`).

CreatePod is idempotent by UID twice over: the SDK answers UIDs the hub knows, and the provider checks its own
table. ``creates`` counts real creations per UID and is persisted, so tests can prove nothing was created twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from virtualkubelet.provider.v1 import (
    capabilities_pb2,
    logs_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    stats_pb2,
    status_pb2,
    streaming_pb2,
)
from vk_provider_mock import behaviour, shell, stats, streams
from vk_provider_mock.config import MockConfig
from vk_provider_mock.ipam import AddressPool
from vk_provider_mock.runtime import MockPod
from vk_provider_mock.state import StateFile
from vk_provider_mock.validation import validate
from vk_provider_sdk import AttachSession, ExecSession, PortForwardConnection, Provider, ProviderInfo, errors
from vk_provider_sdk.provider import installed_version

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 30
_MIN_TIMER = 0.001


def capabilities() -> capabilities_pb2.Capabilities:
    """Everything the mock implements, per option."""
    session = capabilities_pb2.ContainerStreamCapabilities(
        supported=True, tty=True, stdin=True, separate_stderr=True, exit_status=True, resize=True
    )
    return capabilities_pb2.Capabilities(
        logs=capabilities_pb2.LogsCapabilities(
            supported=True, follow=True, since=True, tail_lines=True, limit_bytes=True, previous=True, timestamps=True
        ),
        exec=session,
        attach=session,
        port_forward=capabilities_pb2.PortForwardCapabilities(supported=True),
        stats=capabilities_pb2.StatsCapabilities(supported=True),
        metrics=capabilities_pb2.MetricsCapabilities(supported=True),
        volume_updates=capabilities_pb2.VolumeUpdateCapabilities(supported=True),
        pod_update=capabilities_pb2.PodUpdateCapabilities(image=True, resources=True, metadata=True),
    )


class _Signal:
    """Wakes everyone waiting for "something changed"."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, within: float | None) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)


class MockProvider(Provider):
    def __init__(self, config: MockConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.config = config or MockConfig()
        self._clock = clock
        self._pods: dict[str, MockPod] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        #: Removals waiting for the state file before they are announced (only with a state file).
        self._removals: dict[str, asyncio.Future[None]] = {}
        self._addresses = AddressPool(self.config.pod_cidr)
        self._changed = _Signal()
        self._started_at = clock()
        #: Real creations per UID, kept after deletion (and persisted with --state-file).
        self.creates: dict[str, int] = {}
        self._cpu_ns_removed = 0
        self._state = StateFile(self.config.state_file, self._snapshot) if self.config.state_file else None

    # -- identity, node, health -----------------------------------------------------------------------------------

    def info(self) -> ProviderInfo:
        return ProviderInfo(
            name=self.config.name,
            version=installed_version("vk-provider-mock"),
            capabilities=capabilities(),
            protocol_version=self.config.protocol_version,
        )

    async def node(self) -> node_pb2.Node:
        return self.config.node()

    async def ping(self) -> node_pb2.PingResponse:
        return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_HEALTHY)

    # -- start and stop -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._state is None:
            return
        data = self._state.load()
        if data is None:
            log.info("state file %s does not exist yet; starting empty", self._state.path)
            return
        self.creates = {uid: int(count) for uid, count in data.get("creates", {}).items()}
        self._cpu_ns_removed = int(data.get("node", {}).get("cpu_ns_removed", 0))
        for uid, stored in data.get("pods", {}).items():
            pod = MockPod.from_json(stored, self._behaviour_of)
            self._pods[uid] = pod
            self._addresses.reserve(pod.pod_ip)
        log.info("resumed %d pods from %s", len(self._pods), self._state.path)
        for pod in list(self._pods.values()):
            self._touch(pod)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._state is not None:
            self._state.flush()

    # -- pods -----------------------------------------------------------------------------------------------------

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        validate(pod)
        uid = pod.metadata.uid
        existing = self._pods.get(uid)
        if existing is not None:
            return pod_requests_pb2.CreatePodResponse(status=existing.status(self.now()), already_existed=True)
        script = self._behaviour_of(pod)
        if script.fail_create is not None:
            reason, message = script.fail_create
            raise errors.InvalidPod(message, reason=reason)
        spec = pod_pb2.Pod()
        spec.CopyFrom(pod)
        spec.ClearField("kubernetes_pod_json")
        now = self.now()
        mock = MockPod(spec, created_at=now, pod_ip=self._addresses.allocate(uid), behaviour=script)
        mock.advance(now)  # its timeline (when each container starts) begins now and is stored with it
        self._pods[uid] = mock
        self.creates[uid] = self.creates.get(uid, 0) + 1
        # Stored before anyone hears of it, as a backend reports only what it keeps: a provider killed before the
        # write must not have announced the pod on the status stream (the controller would then see it lost). It
        # starts once stored even if the caller gave up meanwhile: a retried CreatePod finds it running.
        stored = asyncio.ensure_future(self._persisted())
        stored.add_done_callback(lambda done: self._start_stored(mock, done))
        await asyncio.shield(stored)
        return pod_requests_pb2.CreatePodResponse(status=mock.status(now))

    def _start_stored(self, mock: MockPod, stored: asyncio.Future[None]) -> None:
        if not stored.cancelled():
            stored.exception()  # a failed write is the caller's answer, if it still waits; the pod runs anyway
        if self._pods.get(mock.uid) is mock and not mock.gone:
            self._touch(mock)

    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        mock = self._pods.get(pod.metadata.uid)
        if mock is None:
            raise errors.NotFound(f"pod {pod.metadata.namespace}/{pod.metadata.name} is unknown to this provider")
        if mock.deletion is not None:
            raise errors.NotReady("the pod is terminating", reason="PodTerminating")
        validate(pod)
        old_names = [c.name for c in (*mock.spec.init_containers, *mock.spec.containers)]
        new_names = [c.name for c in (*pod.init_containers, *pod.containers)]
        if old_names != new_names:
            raise errors.InvalidPod("spec.containers: containers cannot be added, removed or renamed")
        spec = pod_pb2.Pod()
        spec.CopyFrom(pod)
        spec.ClearField("kubernetes_pod_json")
        now = self.now()
        mock.update(spec, self._behaviour_of(spec), now)
        self._touch(mock)
        await self._persisted()
        return mock.status(now)

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        mock = self._pods.get(request.pod.uid)
        if mock is None:
            return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE)
        if request.HasField("grace_period_seconds"):
            grace = max(request.grace_period_seconds, 0)
        elif mock.spec.HasField("termination_grace_period_seconds"):
            grace = max(mock.spec.termination_grace_period_seconds, 0)
        else:
            grace = DEFAULT_GRACE_SECONDS
        now = self.now()
        mock.delete(now, grace)
        status = mock.status(now)
        self._touch(mock)
        await self._persisted()
        removal = self._removals.get(mock.uid)
        if removal is not None:
            await asyncio.shield(removal)
        state = pod_requests_pb2.DELETION_STATE_GONE if mock.gone else pod_requests_pb2.DELETION_STATE_TERMINATING
        return pod_requests_pb2.DeletePodResponse(state=state, status=status)

    # -- the engine -----------------------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def pod(self, ref: pod_pb2.PodRef) -> MockPod:
        mock = self._pods.get(ref.uid)
        if mock is None:
            raise errors.NotFound(f"pod {ref.namespace}/{ref.name} (uid {ref.uid}) is unknown to this provider")
        return mock

    async def changed(self, within: float | None) -> None:
        await self._changed.wait(within)

    def write_output(self, pod: MockPod, container: str, content: bytes, stream: shell.Stream = "stdout") -> None:
        if pod.add_output(container, stream, content, self.now()):
            self._touch(pod)

    def _behaviour_of(self, pod: pod_pb2.Pod) -> behaviour.Behaviour:
        return behaviour.from_annotations(pod.metadata.annotations, default_stop_delay=self.config.stop_delay)

    def _touch(self, mock: MockPod) -> None:
        """Advance a pod to now, publish it (or its deletion), set its timer, persist, wake followers."""
        now = self.now()
        mock.advance(now)
        timer = self._timers.pop(mock.uid, None)
        if timer is not None:
            timer.cancel()
        if mock.gone:
            self._remove(mock, now)
        else:
            self.pods.publish(mock.record(now))
            wake = mock.next_wake(now)
            if wake is not None:
                delay = max(wake - now, _MIN_TIMER)
                self._timers[mock.uid] = asyncio.get_running_loop().call_later(delay, self._on_timer, mock.uid)
        if self._state is not None:
            self._state.changed()
        self._changed.notify()

    def _on_timer(self, uid: str) -> None:
        self._timers.pop(uid, None)
        mock = self._pods.get(uid)
        if mock is not None:
            self._touch(mock)

    def _remove(self, mock: MockPod, now: float) -> None:
        del self._pods[mock.uid]
        self._addresses.release(mock.pod_ip)
        self._cpu_ns_removed += mock.cpu_ns(now)
        ref, final = mock.ref, mock.status(now)
        log.info("pod %s/%s (%s) is gone", ref.namespace, ref.name, mock.uid)
        if self._state is None:
            self.pods.delete(ref, requested=True, final_status=final)
            return
        # As a create is stored before it is announced, so is a removal: whoever hears the pod is gone finds the
        # backend without it. DeletePod answers GONE only once it is announced.
        removal = asyncio.ensure_future(self._announce_removal(ref, final))
        self._removals[mock.uid] = removal
        removal.add_done_callback(lambda _: self._removals.pop(ref.uid, None))

    async def _announce_removal(self, ref: pod_pb2.PodRef, final: status_pb2.PodStatus) -> None:
        try:
            await self._persisted()
        except errors.ProviderError as error:  # the pod is gone here all the same
            log.warning("pod %s/%s is gone but the state file was not written: %s", ref.namespace, ref.name, error)
        finally:
            self.pods.delete(ref, requested=True, final_status=final)

    async def _persisted(self) -> None:
        if self._state is not None:
            await self._state.persisted()

    def _snapshot(self) -> dict[str, Any]:
        return {
            "pods": {uid: pod.to_json() for uid, pod in self._pods.items()},
            "creates": dict(self.creates),
            "node": {"cpu_ns_removed": self._cpu_ns_removed},
        }

    # -- on user demand -------------------------------------------------------------------------------------------

    async def get_container_logs(
        self, request: logs_pb2.GetContainerLogsRequest
    ) -> AsyncIterator[logs_pb2.GetContainerLogsResponse]:
        async for response in streams.container_logs(self, request):
            yield response

    async def exec(self, session: ExecSession) -> streaming_pb2.ExitStatus:
        return await streams.run_exec(self, session)

    async def attach(self, session: AttachSession) -> streaming_pb2.ExitStatus | None:
        return await streams.run_attach(self, session)

    async def port_forward(self, connection: PortForwardConnection) -> None:
        await streams.run_port_forward(self, connection)

    async def get_stats_summary(self) -> stats_pb2.GetStatsSummaryResponse:
        now = self.now()
        return stats.summary(
            self._pods.values(), now=now, node_started_at=self._started_at, cpu_ns_removed=self._cpu_ns_removed
        )


__all__ = ["MockProvider", "capabilities"]

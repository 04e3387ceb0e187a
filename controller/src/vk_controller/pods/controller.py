"""Running the pods bound to this node on the provider, and reporting their status back.

Two keyed queues, as in upstream virtual-kubelet, both keyed by ``namespace/name``:

- **sync** drives the provider from Kubernetes: create a pod the provider lacks, update it when its revision
  changed, delete it when Kubernetes deletes it, and remove the Kubernetes object once the provider confirms its
  containers are gone. It is woken by pod watch events and by the provider's status stream.
- **status** drives Kubernetes from the provider: it rebuilds the pod's status from the provider's latest record
  and patches it only when something changed.

Workers read the current state from the informer (Kubernetes) and :class:`ProviderState` (the provider's stream)
each time; events only say which key to look at. Decisions that depend on the provider's absence (create, lost,
orphan) wait until the provider's snapshot is complete, and orphans are deleted only after complete lists of both
sides.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from vk_controller.kube import ApiError, Conflict, KubeClient, NotFound
from vk_controller.kube.client import MERGE_PATCH
from vk_controller.kube.events import NORMAL, WARNING, EventRecorder, pod_ref
from vk_controller.kube.informer import Informer
from vk_controller.kube.references import ReferencedObjects
from vk_controller.kube.times import format_time, now, parse_time
from vk_controller.metrics import Metrics
from vk_controller.pods import unsupported
from vk_controller.pods.conditions import TERMINAL_PHASES, pod_conditions, pod_phase, waiting_status
from vk_controller.pods.provider_state import ProviderState
from vk_controller.pods.resolved import ConversionError, ResolvedPod
from vk_controller.pods.resolver import MissingReference
from vk_controller.provider.records import ProviderPod
from vk_controller.workqueue import Requeue, TerminalError, WorkQueue
from vk_provider_sdk.errors import ProviderError

log = logging.getLogger(__name__)

Json = dict[str, Any]


class PodBackend(Protocol):
    """What the pod controller needs of the provider."""

    async def create(self, pod: Json, *, revision: str, resolved: ResolvedPod | None) -> ProviderPod: ...

    async def update(self, pod: Json, *, revision: str, resolved: ResolvedPod | None) -> ProviderPod: ...

    async def delete(
        self, uid: str, namespace: str, name: str, *, grace_period_seconds: int | None, reason: Any
    ) -> bool: ...


Resolver = Callable[[Json], Awaitable[ResolvedPod | None]]


async def _no_resolution(pod: Json) -> ResolvedPod | None:
    return None


def revision_of(pod: Json) -> str:
    """Changes whenever what the provider runs would change: the spec, labels and annotations."""
    meta = pod["metadata"]
    generation = meta.get("generation")
    hashed = (
        [meta.get("labels"), meta.get("annotations")]
        if generation
        else [meta.get("labels"), meta.get("annotations"), pod["spec"]]
    )
    digest = hashlib.blake2b(json.dumps(hashed, sort_keys=True, separators=(",", ":")).encode(), digest_size=8)
    return f"{generation or 0}-{digest.hexdigest()}"


def _full_revision(spec_revision: str, resolved: ResolvedPod | None) -> str:
    return f"{spec_revision}.{resolved.digest if resolved is not None else ''}"


def _is_terminal(pod: Json) -> bool:
    return pod.get("status", {}).get("phase") in TERMINAL_PHASES


def _path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{name}"


class PodController:
    def __init__(
        self,
        *,
        kube: KubeClient,
        events: EventRecorder,
        backend: PodBackend,
        provider: ProviderState,
        node_name: str,
        node_address: Callable[[], str],
        provider_name: str,
        resolve: Resolver = _no_resolution,
        can_update: bool = False,
        config_retry_max: float = 10.0,
        references: ReferencedObjects | None = None,
        refresh_in: Callable[[str], float | None] = lambda _uid: None,
        metrics: Metrics | None = None,
    ) -> None:
        self._kube = kube
        self._events = events
        self._backend = backend
        self.provider = provider
        self._node_name = node_name
        self._node_address = node_address
        self._provider_name = provider_name
        self._resolve = resolve
        self._can_update = can_update
        self._references = references
        self._refresh_in = refresh_in
        self._stale: set[str] = set()  # keys whose referenced objects changed since their last resolution
        self.sync_queue: WorkQueue[str] = WorkQueue(name="pod-sync")
        self.status_queue: WorkQueue[str] = WorkQueue(name="pod-status")
        self.pods = Informer(
            kube,
            "/api/v1/pods",
            field_selector=f"spec.nodeName={node_name}",
            on_change=self._pod_changed,
        )
        self._deletes_sent: dict[str, int | None] = {}
        self._config_waits: dict[str, int] = {}
        self._config_retry_max = config_retry_max
        self._orphans_swept = False
        self._status_lag = (metrics or Metrics()).status_lag
        self._record_arrived: dict[str, float] = {}  # key -> when the oldest unpatched provider record came

    # -- wiring -------------------------------------------------------------------------------------------------

    def _pod_changed(self, key: str) -> None:
        if self._references is not None:
            pod = self.pods.get(key)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                self._references.forget(key)
            else:
                self._references.track(key, pod)
        self.sync_queue.add(key)
        self.status_queue.add(key)

    def references_changed(self, keys: Iterable[str]) -> None:
        """A configMap or secret these pods reference appeared or changed: resolve them again."""
        for key in keys:
            self._stale.add(key)
            self.sync_queue.add(key)

    def provider_changed(self, pod: ProviderPod) -> None:
        self._record_arrived.setdefault(pod.key, time.monotonic())
        self.status_queue.add(pod.key)
        known = self.pods.get(pod.key)
        if (
            pod.deleting
            or pod.uid in self._deletes_sent
            # No Kubernetes pod of that name (a pod the provider invented, or one deleted meanwhile): the sync
            # deletes it on the provider, once both sides are listed, instead of leaving an orphan until a resync.
            or known is None
            # A finished pod said to run again: its phase stays final, and the sync stops it on the provider.
            or (_is_terminal(known) and pod.phase not in TERMINAL_PHASES)
        ):
            self.sync_queue.add(pod.key)

    def provider_gone(self, key: str) -> None:
        self.sync_queue.add(key)

    def provider_synced(self) -> None:
        """A complete snapshot arrived: look at every pod again, then at orphans."""
        for key in self.pods.all_keys():
            self.sync_queue.add(key)
            self.status_queue.add(key)
        self._orphans_swept = False
        self._deletes_sent.clear()  # a provider that restarted may need them again
        self.sync_queue.add(_SWEEP)

    def kubernetes_synced(self) -> None:
        self.sync_queue.add(_SWEEP)

    # -- pod sync -----------------------------------------------------------------------------------------------

    async def sync(self, key: str) -> Requeue | None:
        try:
            return await self._sync(key)
        except Exception as error:
            if not is_retryable(error) and not isinstance(error, TerminalError):
                pod = self.pods.get(key)
                if pod is not None:  # never silent: the user sees why nothing happens
                    self._events.record(pod_ref(pod), WARNING, "FailedSync", f"{type(error).__name__}: {error}")
            raise

    async def _sync(self, key: str) -> Requeue | None:
        if key == _SWEEP:
            await self._sweep_orphans()
            return None
        if not self.pods.synced.is_set():
            return None  # the pod list is not complete yet, so absence means nothing; its first list looks again
        pod = self.pods.get(key)
        if pod is None:
            await self._gone_from_kubernetes(key)
            return None
        if not self.provider.synced:
            return None  # provider_synced() looks again
        meta = pod["metadata"]
        uid = meta["uid"]
        record = self.provider.get(uid)
        if meta.get("deletionTimestamp"):
            await self._sync_deleting(pod, record)
            return None
        if _is_terminal(pod):
            if record is not None and record.phase not in TERMINAL_PHASES and not record.deleting:
                await self._delete_on_provider(pod, grace=0, reason="deadline")
            return None
        problems = unsupported.problems(pod["spec"])
        if problems:
            await self._fail(pod, unsupported.REASON, unsupported.message(problems))
            return None
        deadline = self._deadline_left(pod)
        if deadline is not None and deadline <= 0:
            seconds = pod["spec"]["activeDeadlineSeconds"]
            await self._fail(
                pod, "DeadlineExceeded", f"Pod was active on the node longer than the specified deadline ({seconds}s)"
            )
            if record is not None:
                await self._delete_on_provider(pod, grace=0, reason="deadline")
            return None
        if record is None:
            waiting = await self._create(pod)
            if waiting is not None:
                return waiting
        elif self._can_update and not record.deleting:
            await self._maybe_update(key, pod, record)
        later = [t for t in (deadline, self._refresh_in(uid)) if t is not None]
        return Requeue(max(min(later), 0.05)) if later else None

    async def _maybe_update(self, key: str, pod: Json, record: ProviderPod) -> None:
        """Send UpdatePod when the spec, a referenced object or a due token changes what the provider runs."""
        spec_revision = revision_of(pod)
        refresh = self._refresh_in(pod["metadata"]["uid"])
        token_due = refresh is not None and refresh <= 0
        if key not in self._stale and not token_due and record.revision.startswith(spec_revision + "."):
            return
        self._stale.discard(key)
        try:
            resolved = await self._resolve(pod)
        except (MissingReference, ConversionError) as error:
            # As the kubelet does, a running pod keeps the content it has when a reference disappears.
            log.info("pod %s keeps its current content: %s", key, error)
            return
        revision = _full_revision(spec_revision, resolved)
        if revision != record.revision or token_due:
            await self._update(pod, resolved, revision)

    def _deadline_left(self, pod: Json) -> float | None:
        seconds = pod["spec"].get("activeDeadlineSeconds")
        started = pod.get("status", {}).get("startTime")
        if seconds is None or not started:
            return None
        return float(seconds) - (now() - parse_time(started)).total_seconds()

    async def _create(self, pod: Json) -> Requeue | None:
        meta = pod["metadata"]
        loss = self.provider.lost(meta["uid"])
        if loss is not None or pod.get("status", {}).get("startTime"):
            # It ran on the provider before and the provider no longer has it: running it again could run it twice.
            reason = loss.reason if loss else "ProviderLost"
            message = loss.message if loss else "the provider no longer has this pod"
            await self._fail(pod, reason, message)
            return None
        try:
            resolved = await self._resolve(pod)
        except MissingReference as missing:
            return await self._wait_for_config(pod, missing)
        except ConversionError as error:
            await self._fail(pod, "InvalidPodSpec", str(error))
            return None
        self._config_waits.pop(meta["uid"], None)
        try:
            created = await self._backend.create(
                pod, revision=_full_revision(revision_of(pod), resolved), resolved=resolved
            )
        except ConversionError as error:
            await self._fail(pod, "InvalidPodSpec", str(error))
            return None
        except ProviderError as error:
            if error.terminal_for_pod:
                await self._fail(pod, error.reason, error.message)
                return None
            self._events.record(pod_ref(pod), WARNING, "ProviderCreateFailed", f"{error.reason}: {error.message}")
            raise
        self._remember(created)
        self._events.record(pod_ref(pod), NORMAL, "Created", f"Created pod on provider {self._provider_name}")
        self.status_queue.add(created.key)
        return None

    def _remember(self, answered: ProviderPod) -> None:
        """Keep a create or update answer unless the status stream already brought this revision or a newer one:
        the stream is ordered, an answer can arrive after later stream events and must not undo them."""
        known = self.provider.get(answered.uid)
        if known is None or known.revision != answered.revision:
            self.provider.put(answered)

    async def _wait_for_config(self, pod: Json, missing: MissingReference) -> Requeue:
        """A mandatory configMap or secret is missing: Pending, containers waiting, an Event; look again soon."""
        uid = pod["metadata"]["uid"]
        attempts = self._config_waits.get(uid, 0)
        self._config_waits[uid] = attempts + 1
        spec = pod["spec"]
        message = missing.message
        status = dict(pod.get("status", {}))
        status["phase"] = "Pending"
        waiting = [
            waiting_status(c["name"], c.get("image", ""), "CreateContainerConfigError", message)
            for c in spec["containers"]
        ]
        status["containerStatuses"] = waiting
        if spec.get("initContainers"):
            status["initContainerStatuses"] = [
                waiting_status(c["name"], c.get("image", ""), "PodInitializing") for c in spec["initContainers"]
            ]
        status["conditions"] = pod_conditions(
            pod, "Pending", status.get("initContainerStatuses", []), waiting, sandbox_ready=False
        )
        if _differs(pod.get("status", {}), status):
            await self._patch_status(pod, status)
            if missing.field.startswith("spec.volumes"):
                self._events.record(pod_ref(pod), WARNING, "FailedMount", f"MountVolume.SetUp failed: {message}")
            else:
                self._events.record(pod_ref(pod), WARNING, "Failed", f"Error: {message}")
        return Requeue(min(0.5 * 2**attempts, self._config_retry_max))

    async def _update(self, pod: Json, resolved: ResolvedPod | None, revision: str) -> None:
        try:
            updated = await self._backend.update(pod, revision=revision, resolved=resolved)
        except ProviderError as error:
            if not error.retryable:
                self._events.record(pod_ref(pod), WARNING, "ProviderUpdateFailed", f"{error.reason}: {error.message}")
                raise TerminalError(str(error)) from error
            raise
        self._remember(updated)
        self.status_queue.add(updated.key)

    async def _delete_on_provider(self, pod: Json, *, grace: int | None, reason: Any) -> bool:
        meta = pod["metadata"]
        uid = meta["uid"]
        if uid in self._deletes_sent and self._deletes_sent[uid] == grace:
            record = self.provider.get(uid)
            return record is None
        gone = await self._backend.delete(
            uid, meta["namespace"], meta["name"], grace_period_seconds=grace, reason=reason
        )
        self._deletes_sent[uid] = grace
        if gone:
            self.provider.forget(uid)
        return gone

    async def _sync_deleting(self, pod: Json, record: ProviderPod | None) -> None:
        meta = pod["metadata"]
        if record is not None:
            grace = meta.get("deletionGracePeriodSeconds")
            gone = await self._delete_on_provider(pod, grace=grace, reason="deleted")
            if not gone:
                return  # the provider's `deleted` event brings us back
        self._deletes_sent.pop(meta["uid"], None)
        if not _is_terminal(pod):
            await self._write_terminal_phase(pod)
        # NotFound: already gone; Conflict: a new pod took the name. Either way this one is done.
        with contextlib.suppress(NotFound, Conflict):
            await self._kube.delete(_path(meta["namespace"], meta["name"]), grace_period_seconds=0, uid=meta["uid"])
        log.info("pod %s/%s deleted after the provider confirmed", meta["namespace"], meta["name"])

    async def _gone_from_kubernetes(self, key: str) -> None:
        """The object vanished (force delete, or our own final delete): make sure the provider lets it go too."""
        uid = self.provider.uid_for_key(key)
        if uid is None:
            return
        record = self.provider.get(uid)
        if record is None or record.deleting:
            return
        namespace, name = key.split("/", 1)
        gone = await self._backend.delete(uid, namespace, name, grace_period_seconds=0, reason="deleted")
        if gone:
            self.provider.forget(uid)

    async def _sweep_orphans(self) -> None:
        """Delete provider pods whose Kubernetes pod is gone, once both sides were listed completely."""
        if self._orphans_swept or not (self.provider.synced and self.pods.synced.is_set()):
            return
        self._orphans_swept = True
        known = {pod["metadata"]["uid"] for pod in self.pods.values()}
        for record in self.provider.pods():
            if record.uid in known or record.deleting:
                continue
            uid, namespace, name = record.ref_parts()
            log.info("deleting orphaned provider pod %s/%s (uid %s): its Kubernetes pod is gone", namespace, name, uid)
            if await self._backend.delete(uid, namespace, name, grace_period_seconds=0, reason="orphaned"):
                self.provider.forget(uid)

    # -- status -------------------------------------------------------------------------------------------------

    async def _fail(self, pod: Json, reason: str, message: str) -> None:
        """Mark the pod Failed with a reason and an Event; it will never be created or retried."""
        status = dict(pod.get("status", {}))
        status.update({"phase": "Failed", "reason": reason, "message": message})
        status["conditions"] = pod_conditions(
            pod,
            "Failed",
            status.get("initContainerStatuses", []),
            status.get("containerStatuses", []),
            sandbox_ready=False,
        )
        await self._patch_status(pod, status)
        self._events.record(pod_ref(pod), WARNING, reason, message)

    async def _write_terminal_phase(self, pod: Json) -> None:
        """Before the object is removed, the API must show a terminal phase (as the kubelet does)."""
        status = dict(pod.get("status", {}))
        statuses = status.get("containerStatuses", [])
        exited_ok = statuses and all(s.get("state", {}).get("terminated", {}).get("exitCode") == 0 for s in statuses)
        status["phase"] = "Succeeded" if exited_ok else "Failed"
        await self._patch_status(pod, status)

    async def _patch_status(self, pod: Json, status: Json) -> None:
        meta = pod["metadata"]
        body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": status}
        written = await self._kube.patch(
            _path(meta["namespace"], meta["name"]) + "/status", body, content_type=MERGE_PATCH
        )
        self.pods.wrote(written)

    def desired_status(self, pod: Json, record: ProviderPod) -> Json:
        spec = pod["spec"]
        current = pod.get("status", {})
        reported = record.kubernetes_status(spec)
        inits = reported.get("initContainerStatuses", [])
        mains = reported["containerStatuses"]
        phase = pod_phase(spec, inits, mains)
        if record.phase == "Failed" and phase != "Succeeded":
            phase = "Failed"  # the backend failed the pod as a whole (e.g. gave up on an image)
        status: Json = {
            "phase": phase,
            "hostIP": reported.get("hostIP") or self._node_address(),
            "hostIPs": reported.get("hostIPs") or [{"ip": self._node_address()}],
            "startTime": current.get("startTime") or reported.get("startTime") or format_time(now()),
            "containerStatuses": mains,
            "qosClass": current.get("qosClass"),
        }
        if inits:
            status["initContainerStatuses"] = inits
        for field in ("podIP", "podIPs", "reason", "message"):
            if field in reported:
                status[field] = reported[field]
        ephemeral = [_ephemeral_refused(c, self._node_name, current) for c in spec.get("ephemeralContainers") or []]
        if ephemeral:
            status["ephemeralContainerStatuses"] = ephemeral
        sandbox_ready = bool(reported.get("podIP")) or any("state" in s and "waiting" not in s["state"] for s in mains)
        status["conditions"] = pod_conditions(pod, phase, inits, mains, sandbox_ready=sandbox_ready)
        return {k: v for k, v in status.items() if v is not None}

    async def sync_status(self, key: str) -> None:
        arrived = self._record_arrived.pop(key, None)
        pod = self.pods.get(key)
        if pod is None or (pod["metadata"].get("deletionTimestamp") and _is_terminal(pod)):
            return
        record = self.provider.get(pod["metadata"]["uid"])
        if record is None or _is_terminal(pod):
            return  # a terminal phase is final: never moved out of
        desired = self.desired_status(pod, record)
        current = pod.get("status", {})
        if not _differs(current, desired):
            return
        await self._patch_status(pod, desired)
        if arrived is not None:
            self._status_lag.observe(time.monotonic() - arrived)
        if desired["phase"] != current.get("phase"):
            self._record_phase_events(pod, desired)
        known = {s["name"] for s in current.get("ephemeralContainerStatuses") or []}
        for refused in desired.get("ephemeralContainerStatuses", []):
            if refused["name"] not in known:
                message = refused["state"]["terminated"]["message"]
                self._events.record(pod_ref(pod), WARNING, EPHEMERAL_REASON, message)

    def _record_phase_events(self, pod: Json, status: Json) -> None:
        phase = status["phase"]
        if phase == "Running":
            self._events.record(pod_ref(pod), NORMAL, "Started", f"Pod running on provider {self._provider_name}")
        elif phase == "Failed":
            failed = [
                f"{s['name']} exited with code {s['state']['terminated']['exitCode']}"
                for s in status.get("containerStatuses", [])
                if s.get("state", {}).get("terminated", {}).get("exitCode", 0) != 0
            ]
            message = status.get("message") or "; ".join(failed) or "the pod failed"
            self._events.record(pod_ref(pod), WARNING, status.get("reason") or "PodFailed", message)


_SWEEP = "\0sweep-orphans"

EPHEMERAL_REASON = "EphemeralContainersNotSupported"


def _ephemeral_refused(container: Json, node: str, current: Json) -> Json:
    """Ephemeral containers (kubectl debug) cannot be added to a running pod on a serverless backend: the
    container is reported terminated with the reason, so kubectl shows it instead of waiting forever."""
    for status in current.get("ephemeralContainerStatuses") or []:
        if status.get("name") == container["name"]:
            return dict(status)
    message = (
        f"ephemeral container {container['name']!r} cannot run: virtual node {node} cannot add containers to a "
        "running pod (kubectl debug is not supported here; use kubectl exec, or kubectl debug --copy-to)"
    )
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "state": {"terminated": {"exitCode": 128, "reason": EPHEMERAL_REASON, "message": message}},
        "lastState": {},
    }


_IGNORED_CONDITION_FIELDS = ("lastProbeTime", "lastTransitionTime", "lastHeartbeatTime")


def _comparable(status: Json) -> Json:
    out = dict(status)
    out["conditions"] = sorted(
        ({k: v for k, v in c.items() if k not in _IGNORED_CONDITION_FIELDS} for c in status.get("conditions") or []),
        key=lambda c: str(c.get("type")),
    )
    return out


def _differs(current: Json, desired: Json) -> bool:
    current_view = _comparable({k: current.get(k) for k in desired})
    return current_view != _comparable(desired)


def is_retryable(error: BaseException) -> bool:
    """For the work queues: API and provider errors that can pass are retried; the rest are not."""
    if isinstance(error, ProviderError | ApiError):
        return error.retryable
    return not isinstance(error, ValueError | TypeError | KeyError)

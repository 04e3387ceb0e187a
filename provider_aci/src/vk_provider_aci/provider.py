"""The ACI provider: one pod = one container group, status from one paged listing per interval, logs by polling.

- **Identity in tags** (``vk.node``, ``vk.pod-uid``, ``vk.namespace``, ``vk.name``, ``vk.revision``; ARM tag keys
  cannot hold ``/``). Group names are ``<namespace>-<name>`` (cut) + the UID, so two pods never share a group.
- **Adoption.** At the first Handshake (the node name is then known) the resource group is listed and every group
  tagged with this node is published, so a restarted provider adopts what runs instead of creating it again.
- **Create** sends the PUT through the SDK's long-running operation and answers PENDING once ARM accepted it
  (ARM errors such as 400 ``InvalidImage...`` refuse the pod with ARM's code as the reason); the operation is
  followed in the background, and a provisioning failure fails the pod with ARM's code and message (until the
  operation ends, a listing's ``Failed`` provisioning state is not published: a Failed phase is final).
- **Status** comes from :class:`Poller`: one listing of the resource group per interval (paged with
  ``nextLink``), never a GET per pod. A pod whose group is missing from a complete listing that started after
  the group was accepted is gone: ``deleted`` (requested if it was being deleted, else ``DeletedInBackend``).
- **Delete** deletes the group (ACI stops its containers at once; the grace period cannot be honoured) and answers
  GONE when ARM is done within a few seconds, TERMINATING otherwise.
- **Logs** with tail and timestamps from ARM; since and limit_bytes are applied here on the timestamped lines;
  follow polls.
- **Exec** asks ARM for the container's exec WebSocket and bridges the session to it (``execws.py``): always a
  terminal, stdin, output as one stream, no resizes, and no exit code (sessions end with an UNKNOWN exit status).
  **Attach, port-forward, stats** are not declared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from virtualkubelet.provider.v1 import (
    capabilities_pb2,
    logs_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    status_pb2,
    streaming_pb2,
)
from vk_provider_aci import arm, execws, mapping, status
from vk_provider_aci import logs as aci_logs
from vk_provider_aci.config import AciConfig
from vk_provider_sdk import errors
from vk_provider_sdk import logs as sdk_logs
from vk_provider_sdk.provider import Provider, ProviderInfo, installed_version
from vk_provider_sdk.sessions import ExecSession

log = logging.getLogger(__name__)

#: How long DeletePod waits for ARM before answering TERMINATING.
DELETE_WAIT = 10.0
#: Seconds between two log fetches while following.
FOLLOW_INTERVAL = 1.0


def capabilities() -> capabilities_pb2.Capabilities:
    return capabilities_pb2.Capabilities(
        logs=capabilities_pb2.LogsCapabilities(
            supported=True, follow=True, since=True, tail_lines=True, limit_bytes=True, timestamps=True
        ),
        # ACI's exec WebSocket: a terminal always, stdin as text, stdout and stderr mixed, no exit code, and the
        # terminal size is fixed when the command starts.
        exec=capabilities_pb2.ContainerStreamCapabilities(
            supported=True, tty=True, stdin=True, separate_stderr=False, exit_status=False, resize=False
        ),
    )


@dataclass
class PodGroup:
    """One pod and its container group (the ARM JSON last seen, or the body sent until it is listed)."""

    ref: pod_pb2.PodRef
    revision: str
    name: str
    group: dict[str, Any]
    accepted_at: float = field(default_factory=time.monotonic)
    deleting: bool = False
    #: The creation's long-running operation is still followed: it, not the listing, tells a provisioning failure.
    following: bool = False
    error_code: str = ""
    error_message: str = ""

    def pod_status(self) -> status_pb2.PodStatus:
        return status.pod_status(self.group, error_code=self.error_code, error_message=self.error_message)

    def record(self) -> status_pb2.PodRecord:
        return status_pb2.PodRecord(
            ref=self.ref, revision=self.revision, deleting=self.deleting, status=self.pod_status()
        )

    def container_names(self) -> set[str]:
        properties = self.group.get("properties") or {}
        return {
            str(c.get("name"))
            for c in (*(properties.get("containers") or []), *(properties.get("initContainers") or []))
        }


class AciProvider(Provider):
    def __init__(self, config: AciConfig) -> None:
        super().__init__()
        self.config = config
        self._client: Any = None
        self._credential: Any = None
        self._groups: dict[str, PodGroup] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        #: The error of the last listing, until one succeeds (Ping reports it).
        self.problem: errors.ProviderError | None = None
        #: Listings made (one per interval), for logs and tests.
        self.listings = 0

    # -- identity, node, health -----------------------------------------------------------------------------------

    def info(self) -> ProviderInfo:
        return ProviderInfo(name="aci", version=installed_version("vk-provider-aci"), capabilities=capabilities())

    async def node(self) -> node_pb2.Node:
        return node_pb2.Node(
            capacity=self.config.capacity,
            allocatable=self.config.capacity,
            system_info=node_pb2.NodeSystemInfo(
                operating_system="linux",
                architecture="amd64",
                os_image="Azure Container Instances",
                container_runtime_version="aci://2023-05-01",
            ),
            region=self.config.region,
        )

    async def ping(self) -> node_pb2.PingResponse:
        if self.problem is not None:
            return node_pb2.PingResponse(
                health=node_pb2.NODE_HEALTH_UNHEALTHY, reason=self.problem.reason, message=self.problem.message
            )
        return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_HEALTHY)

    # -- start, handshake, stop -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._credential = arm.credential(self.config)
        self._client = arm.client(self.config, self._credential)

    async def adopt(self, node_name: str) -> None:
        await self._adopt(node_name)
        self._poller = asyncio.get_running_loop().create_task(self._poll_forever(), name="aci status")

    async def close(self) -> None:
        for task in [*self._background, *([self._poller] if self._poller else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.close()
        if self._credential is not None:
            await self._credential.close()

    # -- listing --------------------------------------------------------------------------------------------------

    async def list_groups(self) -> list[dict[str, Any]]:
        """Every container group of this node in the resource group, as ARM JSON (following ``nextLink``)."""
        self.listings += 1
        groups: list[dict[str, Any]] = []
        try:
            async for model in self._client.container_groups.list_by_resource_group(self.config.resource_group):
                body: dict[str, Any] = model.serialize(keep_readonly=True)
                body["name"] = model.name
                if (body.get("tags") or {}).get(mapping.TAG_NODE) == self.node_name:
                    groups.append(body)
        except AzureError as error:
            raise arm.translate("listing the container groups", error) from error
        return groups

    async def _adopt(self, node_name: str) -> None:
        for group in await self.list_groups():
            tags = group.get("tags") or {}
            uid = str(tags.get(mapping.TAG_UID) or "")
            if not uid or uid in self._groups:
                continue
            ref = pod_pb2.PodRef(
                uid=uid, namespace=tags.get(mapping.TAG_NAMESPACE, ""), name=tags.get(mapping.TAG_NAME, "")
            )
            pod_group = PodGroup(ref, str(tags.get(mapping.TAG_REVISION, "")), str(group["name"]), group)
            pod_group.deleting = (group.get("properties") or {}).get("provisioningState") == "Deleting"
            self._groups[uid] = pod_group
            self.pods.publish(pod_group.record())
        log.info(
            "adopted %d container group(s) of node %s in %s", len(self._groups), node_name, self.config.resource_group
        )

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval)
            try:
                await self.poll_once()
                self.problem = None
            except errors.ProviderError as error:
                if self.problem is None:
                    log.warning("listing the container groups failed: %s", error)
                self.problem = error
            except Exception:
                log.exception("listing the container groups failed")

    async def poll_once(self) -> None:
        started = time.monotonic()
        listed = {str((g.get("tags") or {}).get(mapping.TAG_UID)): g for g in await self.list_groups()}
        for uid, pod_group in list(self._groups.items()):
            group = listed.get(uid)
            if group is not None:
                provisioning = (group.get("properties") or {}).get("provisioningState")
                if pod_group.following and provisioning in status.FAILED_PROVISIONING:
                    continue  # ARM's code and message come with the operation: a Failed phase is final, wait for it
                pod_group.group = group
                self.pods.publish(pod_group.record())
            elif pod_group.accepted_at < started and not pod_group.error_code:
                self._forget(pod_group, disappeared=True)

    def _forget(self, pod_group: PodGroup, *, disappeared: bool) -> None:
        if self._groups.get(pod_group.ref.uid) is not pod_group:
            return
        del self._groups[pod_group.ref.uid]
        requested = pod_group.deleting or not disappeared
        self.pods.delete(
            pod_group.ref,
            requested=requested,
            reason="" if requested else "DeletedInBackend",
            message="" if requested else f"container group {pod_group.name} was deleted outside this provider",
            final_status=pod_group.pod_status(),
        )
        log.info("pod %s/%s (%s) is gone", pod_group.ref.namespace, pod_group.ref.name, pod_group.ref.uid)

    # -- pods -----------------------------------------------------------------------------------------------------

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        uid = pod.metadata.uid
        existing = self._groups.get(uid)
        if existing is not None:
            return pod_requests_pb2.CreatePodResponse(status=existing.pod_status(), already_existed=True)
        node_name = self.node_name or pod.node_name
        body = mapping.container_group(pod, self.config, node_name=node_name)
        name = mapping.group_name(pod)
        ref = pod_pb2.PodRef(uid=uid, namespace=pod.metadata.namespace, name=pod.metadata.name)
        try:
            poller = await self._client.container_groups.begin_create_or_update(
                self.config.resource_group,
                name,
                json.dumps(body).encode(),
                content_type="application/json",
            )
        except AzureError as error:
            raise arm.translate(f"creating container group {name}", error) from error
        pod_group = PodGroup(ref, pod.revision, name, _without_secrets(body), following=True)
        self._groups[uid] = pod_group
        self.pods.publish(pod_group.record())
        self._spawn(self._follow_creation(pod_group, poller))
        log.info("pod %s/%s (%s) accepted as container group %s", ref.namespace, ref.name, uid, name)
        return pod_requests_pb2.CreatePodResponse(status=pod_group.pod_status())

    async def _follow_creation(self, pod_group: PodGroup, poller: Any) -> None:
        try:
            await self._await_creation(pod_group, poller)
        finally:
            pod_group.following = False

    async def _await_creation(self, pod_group: PodGroup, poller: Any) -> None:
        try:
            result = await poller.result()
        except HttpResponseError as error:
            code, message = arm.error_code(error)
            log.warning("container group %s failed: %s: %s", pod_group.name, code, message)
            pod_group.error_code, pod_group.error_message = code, f"{code}: {message}"
        except AzureError as error:
            log.warning("following the creation of container group %s failed: %s", pod_group.name, error)
            return
        else:
            if self._groups.get(pod_group.ref.uid) is pod_group and not pod_group.deleting:
                body: dict[str, Any] = result.serialize(keep_readonly=True)
                body["name"] = result.name
                pod_group.group = body
        if self._groups.get(pod_group.ref.uid) is pod_group:
            self.pods.publish(pod_group.record())

    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        raise errors.Unimplemented("the ACI provider applies no changes to running pods (nothing declared)")

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        pod_group = self._groups.get(request.pod.uid)
        if pod_group is None:
            return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE)
        if not pod_group.deleting:
            pod_group.deleting = True
            self.pods.publish(pod_group.record())
        deletion = asyncio.ensure_future(self._delete_group(pod_group))
        done, _ = await asyncio.wait({deletion}, timeout=DELETE_WAIT)
        if not done:
            self._background.add(deletion)
            deletion.add_done_callback(self._background.discard)
            return pod_requests_pb2.DeletePodResponse(
                state=pod_requests_pb2.DELETION_STATE_TERMINATING, status=pod_group.pod_status()
            )
        deletion.result()  # raises the translated error, if any
        final = pod_group.pod_status()
        return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE, status=final)

    async def _delete_group(self, pod_group: PodGroup) -> None:
        try:
            poller = await self._client.container_groups.begin_delete(self.config.resource_group, pod_group.name)
            await poller.result()
        except ResourceNotFoundError:
            pass
        except AzureError as error:
            raise arm.translate(f"deleting container group {pod_group.name}", error) from error
        self._forget(pod_group, disappeared=False)

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- logs -----------------------------------------------------------------------------------------------------

    async def _fetch_logs(self, pod_group: PodGroup, container: str, tail: int | None) -> list[logs_pb2.LogEntry]:
        kwargs: dict[str, Any] = {"timestamps": True}
        if tail is not None:
            kwargs["tail"] = tail
        try:
            answer = await self._client.containers.list_logs(
                self.config.resource_group, pod_group.name, container, **kwargs
            )
        except AzureError as error:
            raise arm.translate(f"reading the log of {pod_group.name}/{container}", error) from error
        return aci_logs.parse(str(answer.content or ""))

    def _container_state(self, uid: str, container: str) -> str | None:
        pod_group = self._groups.get(uid)
        if pod_group is None:
            return None
        pod_status = pod_group.pod_status()
        for entry in (*pod_status.init_container_statuses, *pod_status.container_statuses):
            if entry.name == container:
                return entry.state.WhichOneof("state")
        return None

    async def get_container_logs(
        self, request: logs_pb2.GetContainerLogsRequest
    ) -> AsyncIterator[logs_pb2.GetContainerLogsResponse]:
        pod_group = self._groups.get(request.pod.uid)
        if pod_group is None:
            raise errors.NotFound(f"pod {request.pod.namespace}/{request.pod.name} is unknown to this provider")
        if request.container not in pod_group.container_names():
            raise errors.NotFound(
                f"pod {pod_group.ref.namespace}/{pod_group.ref.name} has no container {request.container!r}"
            )
        if self._container_state(request.pod.uid, request.container) in (None, "waiting"):
            raise errors.NotReady(f"container {request.container!r} has not started yet", reason="ContainerCreating")
        tail = request.tail_lines if request.HasField("tail_lines") and not request.follow else None
        entries = await self._fetch_logs(pod_group, request.container, tail if tail else None)
        budget = sdk_logs.ByteBudget(request.limit_bytes if request.HasField("limit_bytes") else None)
        history = sdk_logs.select(entries, request, budget=budget)
        if not request.follow:
            for batch in sdk_logs.batches(history):
                yield logs_pb2.GetContainerLogsResponse(entries=batch)
            return
        for batch in sdk_logs.batches(history):
            yield logs_pb2.GetContainerLogsResponse(entries=batch)
        yield logs_pb2.GetContainerLogsResponse(history_complete=True)
        seen = len(entries)
        while not budget.exhausted:
            ended = self._container_state(request.pod.uid, request.container) in (None, "terminated")
            await asyncio.sleep(0 if ended else FOLLOW_INTERVAL)
            if request.pod.uid not in self._groups:
                return
            entries = await self._fetch_logs(pod_group, request.container, None)
            new = budget.take(entries[seen:])
            seen = max(seen, len(entries))
            for batch in sdk_logs.batches(new):
                yield logs_pb2.GetContainerLogsResponse(entries=batch)
            if ended:
                return

    # -- exec -----------------------------------------------------------------------------------------------------

    async def exec(self, session: ExecSession) -> streaming_pb2.ExitStatus:
        pod_group = self._groups.get(session.pod.uid)
        if pod_group is None:
            raise errors.NotFound(f"pod {session.pod.namespace}/{session.pod.name} is unknown to this provider")
        where = f"container {session.container!r} of pod {pod_group.ref.namespace}/{pod_group.ref.name}"
        if session.container not in pod_group.container_names():
            raise errors.NotFound(
                f"pod {pod_group.ref.namespace}/{pod_group.ref.name} has no container {session.container!r}"
            )
        if self._container_state(session.pod.uid, session.container) != "running":
            raise errors.NotReady(f"{where} is not running", reason="ContainerNotRunning")
        try:
            answer = await self._client.containers.execute_command(
                self.config.resource_group,
                pod_group.name,
                session.container,
                json.dumps(execws.exec_request(session)).encode(),
                content_type="application/json",
            )
        except AzureError as error:
            raise arm.translate(f"starting exec in {where}", error) from error
        if not answer.web_socket_uri or not answer.password:
            raise errors.Unavailable(f"starting exec in {where}: ARM answered without a WebSocket", reason="AzureError")
        context = ssl.create_default_context(cafile=self.config.ca_bundle) if self.config.ca_bundle else None
        log.info("exec in %s", where)  # not the command: it may carry secrets
        return await execws.bridge(session, str(answer.web_socket_uri), str(answer.password), ssl_context=context)


def _without_secrets(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the provider keeps it until the group is listed: what ARM would return (no secret values)."""
    kept: dict[str, Any] = json.loads(json.dumps(body))
    properties = kept.get("properties") or {}
    for container in (*(properties.get("containers") or []), *(properties.get("initContainers") or [])):
        for variable in (container.get("properties") or {}).get("environmentVariables") or []:
            variable.pop("secureValue", None)
    for volume in properties.get("volumes") or []:
        if "secret" in volume:
            volume["secret"] = {}
        (volume.get("azureFile") or {}).pop("storageAccountKey", None)
    for credential in properties.get("imageRegistryCredentials") or []:
        credential.pop("password", None)
    (properties.get("diagnostics") or {}).get("logAnalytics", {}).pop("workspaceKey", None)
    return kept


__all__ = ["AciProvider", "PodGroup", "capabilities"]

"""The Fargate provider: pods as ECS tasks, status from batched DescribeTasks, logs from CloudWatch.

- **Identity in tags.** Every task carries ``virtual-kubelet.io/node``, ``/pod-uid``, ``/namespace``, ``/name`` and
  ``/revision`` (plus ``--tag``\\s) and ``startedBy`` derived from the node name. ``RunTask`` uses the pod UID as
  ``clientToken``, so a retried create never starts a second task.
- **Adoption.** At the first Handshake (when the node name is known) the provider lists the node's tasks
  (``ListTasks`` by ``startedBy``, running and stopped), describes them with their tags and publishes them, so a
  restarted provider adopts what runs instead of running it again.
- **Status** is polled by :class:`~vk_provider_fargate.poller.Poller`: every unfinished task in DescribeTasks calls
  of up to 100, on an interval that is short while something changes and doubles up to ``--max-poll-interval``
  while nothing does; creates and deletes wake it at once. Stopped tasks are no longer polled.
- **Delete** stops the task (``StopTask`` with the reason; ECS sends SIGTERM and kills after the container's
  ``stopTimeout``, which is the pod's grace period clamped to Fargate's 2 to 120 s) and answers TERMINATING; the
  ``deleted`` event follows when the task is STOPPED. A task already stopped is GONE at once.
- **Task definitions** are registered once per family (:mod:`taskdef`), reused, and deregistered when the last
  task using them is gone.
- **Secrets.** A pod with sensitive values (Secret env values, secret volumes, service-account tokens) first gets
  its Secrets Manager secret (:mod:`secretstore`, named from the node and the pod UID, tagged like its task), then
  a task definition referencing it by ARN. The secret is deleted when the pod is forgotten (its task stopped and
  the pod deleted, or the task gone), when the create fails before a task can exist, and at adoption when no task
  of the node carries its pod UID; an adopted task gets its secret back by the secret's tags. A pod whose images
  use imagePullSecrets' credentials also gets one ``registry-<n>`` secret per distinct credential, referenced by
  ``repositoryCredentials`` and handled in every step like the pod's secret.
- **Exec, attach, port-forward, stats** are not declared: ECS Exec needs the SSM agent channel, which this
  provider does not speak, and Fargate has no per-task stats API it could report honestly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from virtualkubelet.provider.v1 import (
    capabilities_pb2,
    logs_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    status_pb2,
)
from vk_provider_fargate import backend, cloudwatch, secretstore, status, taskdef
from vk_provider_fargate.config import TAG_PREFIX, FargateConfig
from vk_provider_fargate.layout import Layout, from_definitions
from vk_provider_fargate.poller import Poller
from vk_provider_sdk import Provider, ProviderInfo, errors
from vk_provider_sdk.provider import installed_version

log = logging.getLogger(__name__)

TAG_NODE = TAG_PREFIX + "node"
TAG_UID = TAG_PREFIX + "pod-uid"
TAG_NAMESPACE = TAG_PREFIX + "namespace"
TAG_NAME = TAG_PREFIX + "name"
TAG_REVISION = TAG_PREFIX + "revision"
DESCRIBE_BATCH = 100
_STARTED_BY = re.compile(r"[^A-Za-z0-9_-]")
_DELETION_REASONS = {
    pod_requests_pb2.DELETION_REASON_POD_DELETED: "the Kubernetes pod was deleted",
    pod_requests_pb2.DELETION_REASON_ACTIVE_DEADLINE: "the pod exceeded activeDeadlineSeconds",
    pod_requests_pb2.DELETION_REASON_ORPHANED: "the pod no longer exists in Kubernetes",
}


def capabilities() -> capabilities_pb2.Capabilities:
    return capabilities_pb2.Capabilities(
        logs=capabilities_pb2.LogsCapabilities(
            supported=True, follow=True, since=True, tail_lines=True, limit_bytes=True, timestamps=True
        ),
    )


def started_by(node_name: str) -> str:
    """ECS ``startedBy`` (at most 128 of [A-Za-z0-9_-]) for the node's tasks."""
    return ("vk-" + _STARTED_BY.sub("_", node_name))[:128]


@dataclass
class PodTask:
    """One pod and its task."""

    ref: pod_pb2.PodRef
    revision: str
    task_arn: str
    family: str
    layout: Layout
    task: dict[str, Any] = field(default_factory=dict)
    deleting: bool = False
    #: ARNs of the pod's Secrets Manager secrets (its values', its registry credentials'); empty when it has none.
    secrets: tuple[str, ...] = ()

    @property
    def stopped(self) -> bool:
        return self.task.get("lastStatus") in status.TERMINAL_TASK

    def pod_status(self) -> status_pb2.PodStatus:
        return status.pod_status(
            self.task,
            init_containers=self.layout.init_containers,
            containers=self.layout.containers,
            restart_policy=self.layout.restart_policy,
        )

    def record(self) -> status_pb2.PodRecord:
        return status_pb2.PodRecord(
            ref=self.ref, revision=self.revision, deleting=self.deleting, status=self.pod_status()
        )


class FargateProvider(Provider):
    def __init__(self, config: FargateConfig, *, clients: backend.Clients | None = None) -> None:
        super().__init__()
        self.config = config
        self.clients = clients or backend.Clients(config)
        self._tasks: dict[str, PodTask] = {}
        self._families: dict[str, str] = {}  # family -> task definition ARN
        self._family_users: dict[str, set[str]] = {}
        self._family_locks: dict[str, asyncio.Lock] = {}
        #: Pod UID -> secret ARNs of creates whose RunTask outcome is unknown: deleted if the pod is deleted unknown.
        self._unclaimed_secrets: dict[str, tuple[str, ...]] = {}
        self.poller = Poller(self, min_interval=config.poll_interval, max_interval=config.max_poll_interval)

    # -- identity, node, health -----------------------------------------------------------------------------------

    def info(self) -> ProviderInfo:
        return ProviderInfo(
            name="fargate", version=installed_version("vk-provider-fargate"), capabilities=capabilities()
        )

    async def node(self) -> node_pb2.Node:
        return node_pb2.Node(
            capacity=self.config.capacity,
            allocatable=self.config.capacity,
            system_info=node_pb2.NodeSystemInfo(
                operating_system="linux",
                architecture="amd64",
                os_image=f"AWS Fargate (platform {self.config.platform_version})",
                container_runtime_version="fargate://ecs",
            ),
            region=self.config.region,
        )

    async def ping(self) -> node_pb2.PingResponse:
        problem = self.poller.problem
        if problem is not None:
            return node_pb2.PingResponse(
                health=node_pb2.NODE_HEALTH_UNHEALTHY, reason=problem.reason, message=problem.message
            )
        return node_pb2.PingResponse(health=node_pb2.NODE_HEALTH_HEALTHY)

    # -- start, handshake, stop -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Check that the cluster exists before serving (a clear error rather than failed pods later)."""
        answer = await backend.call(
            "DescribeClusters", self.clients.ecs.describe_clusters, clusters=[self.config.cluster]
        )
        active = [c for c in answer.get("clusters", []) if c.get("status") == "ACTIVE"]
        if not active:
            raise ValueError(
                f"--cluster: ECS cluster {self.config.cluster!r} not found (or not ACTIVE) in {self.config.region}"
            )

    async def adopt(self, node_name: str) -> None:
        await self._adopt(node_name)
        self.poller.start()

    async def close(self) -> None:
        await self.poller.stop()

    # -- pods -----------------------------------------------------------------------------------------------------

    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        uid = pod.metadata.uid
        existing = self._tasks.get(uid)
        if existing is not None:
            return pod_requests_pb2.CreatePodResponse(status=existing.pod_status(), already_existed=True)
        node_name = self.node_name or pod.node_name
        definition = taskdef.build(pod, self.config, node_name=node_name)  # validates before anything is created
        ref = pod_pb2.PodRef(uid=uid, namespace=pod.metadata.namespace, name=pod.metadata.name)
        stored: list[str] = []
        running = False
        family = ""
        try:
            if definition.secrets or definition.registry_secrets:
                tags = self._pod_tags(pod, node_name)
                secret = taskdef.PENDING_SECRET_ARN
                if definition.secrets:
                    secret = await secretstore.store(
                        self.clients, secretstore.secret_name(node_name, uid), definition.secrets, tags
                    )
                    stored.append(secret)
                registry: list[str] = []
                for index, login in enumerate(definition.registry_secrets):
                    name = secretstore.registry_secret_name(node_name, uid, index)
                    registry.append(await secretstore.store(self.clients, name, login, tags))
                    stored.append(registry[-1])
                definition = taskdef.build(
                    pod, self.config, node_name=node_name, secret_arn=secret, registry_arns=registry
                )
            layout = from_definitions(definition.arguments["containerDefinitions"])
            family = definition.family
            self._family_users.setdefault(family, set()).add(uid)
            arn = await self._task_definition(definition)
            running = True
            task = await self._run_task(pod, arn, node_name)
        except BaseException as error:
            if family:
                await self._release_family(family, uid)
            if stored:
                if running and not isinstance(error, errors.InvalidPod | errors.PermissionDenied):
                    # RunTask may have started the task (a retried create finds it through clientToken and needs
                    # the same secrets); a delete of the unknown pod removes them.
                    self._unclaimed_secrets[uid] = tuple(stored)
                else:
                    for secret in stored:
                        await self._delete_secret(secret)
            raise
        self._unclaimed_secrets.pop(uid, None)
        pod_task = PodTask(
            ref, pod.revision, str(task["taskArn"]), definition.family, layout, task, secrets=tuple(stored)
        )
        self._tasks[uid] = pod_task
        self.pods.publish(pod_task.record())
        self.poller.wake()
        log.info("pod %s/%s (%s) runs as task %s", ref.namespace, ref.name, uid, pod_task.task_arn)
        return pod_requests_pb2.CreatePodResponse(status=pod_task.pod_status())

    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        raise errors.Unimplemented("the Fargate provider does not update running pods")

    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        pod_task = self._tasks.get(request.pod.uid)
        if pod_task is None:
            for leftover in self._unclaimed_secrets.pop(request.pod.uid, ()):
                await self._delete_secret(leftover)
            return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE)
        if pod_task.stopped:
            final = pod_task.pod_status()
            await self.forget(pod_task, requested=True)
            return pod_requests_pb2.DeletePodResponse(state=pod_requests_pb2.DELETION_STATE_GONE, status=final)
        if not pod_task.deleting:
            why = _DELETION_REASONS.get(request.reason, "deleted through virtual-kubelet")
            await backend.call(
                "StopTask",
                self.clients.ecs.stop_task,
                cluster=self.config.cluster,
                task=pod_task.task_arn,
                reason=f"virtual-kubelet: {why}"[:255],
            )
            pod_task.deleting = True
            self.pods.publish(pod_task.record())
            self.poller.wake()
        return pod_requests_pb2.DeletePodResponse(
            state=pod_requests_pb2.DELETION_STATE_TERMINATING, status=pod_task.pod_status()
        )

    # -- used by the poller ---------------------------------------------------------------------------------------

    def unfinished(self) -> list[PodTask]:
        return [pod_task for pod_task in self._tasks.values() if not pod_task.stopped]

    def task_arns(self) -> dict[str, PodTask]:
        return {pod_task.task_arn: pod_task for pod_task in self._tasks.values()}

    def observed(self, pod_task: PodTask, task: dict[str, Any]) -> bool:
        """Record a DescribeTasks result; True if the pod's record changed."""
        before = pod_task.record()
        pod_task.task = task
        if pod_task.stopped and pod_task.deleting:
            self._forget_soon(pod_task)
            return True
        after = pod_task.record()
        self.pods.publish(after)
        return after != before

    def missing(self, pod_task: PodTask) -> None:
        """The task is gone from ECS (it expired or was deleted outside this provider)."""
        if pod_task.deleting:
            self._forget_soon(pod_task)
            return
        self._forget_soon(pod_task, reason="DeletedInBackend", message=f"ECS no longer knows task {pod_task.task_arn}")

    def _forget_soon(self, pod_task: PodTask, *, reason: str = "", message: str = "") -> None:
        task = asyncio.get_running_loop().create_task(
            self.forget(pod_task, requested=not reason, reason=reason, message=message)
        )
        task.add_done_callback(_log_failure)

    async def forget(self, pod_task: PodTask, *, requested: bool, reason: str = "", message: str = "") -> None:
        if self._tasks.get(pod_task.ref.uid) is not pod_task:
            return
        del self._tasks[pod_task.ref.uid]
        final = pod_task.pod_status()
        self.pods.delete(pod_task.ref, requested=requested, reason=reason, message=message, final_status=final)
        log.info("pod %s/%s (%s) is gone", pod_task.ref.namespace, pod_task.ref.name, pod_task.ref.uid)
        await self._release_family(pod_task.family, pod_task.ref.uid)
        for secret in pod_task.secrets:
            await self._delete_secret(secret)

    async def _delete_secret(self, secret: str) -> None:
        try:
            await secretstore.delete(self.clients, secret)
            log.info("deleted secret %s", secret)
        except errors.ProviderError as error:
            log.warning("could not delete secret %s (adoption after a restart retries): %s", secret, error)

    # -- task definitions -----------------------------------------------------------------------------------------

    def _lock(self, family: str) -> asyncio.Lock:
        return self._family_locks.setdefault(family, asyncio.Lock())

    async def _task_definition(self, definition: taskdef.TaskDefinition) -> str:
        async with self._lock(definition.family):
            known = self._families.get(definition.family)
            if known is not None:
                return known
            try:
                found = await backend.call(
                    "DescribeTaskDefinition",
                    self.clients.ecs.describe_task_definition,
                    taskDefinition=definition.family,
                )
                current = found["taskDefinition"]
                if current.get("status") == "ACTIVE":
                    arn = str(current["taskDefinitionArn"])
                    self._families[definition.family] = arn
                    return arn
            except errors.InvalidPod:
                pass  # ClientException: no such family yet
            tags = [{"key": TAG_NODE, "value": self.node_name or ""}, *self._extra_tags()]
            registered = await backend.call(
                "RegisterTaskDefinition",
                self.clients.ecs.register_task_definition,
                **definition.arguments,
                tags=tags,
            )
            arn = str(registered["taskDefinition"]["taskDefinitionArn"])
            self._families[definition.family] = arn
            log.info("registered task definition %s", arn)
            return arn

    async def _release_family(self, family: str, uid: str) -> None:
        users = self._family_users.get(family)
        if users is not None:
            users.discard(uid)
        if users:
            return
        async with self._lock(family):
            if self._family_users.get(family):
                return
            self._family_users.pop(family, None)
            arn = self._families.pop(family, None)
            if arn is None:
                return
            try:
                await backend.call(
                    "DeregisterTaskDefinition", self.clients.ecs.deregister_task_definition, taskDefinition=arn
                )
                log.info("deregistered task definition %s (no task uses it)", arn)
            except errors.ProviderError as error:
                log.warning("could not deregister task definition %s: %s", arn, error)

    def _extra_tags(self) -> list[dict[str, str]]:
        return [{"key": key, "value": value} for key, value in self.config.tags.items()]

    # -- tasks ----------------------------------------------------------------------------------------------------

    def _pod_tags(self, pod: pod_pb2.Pod, node_name: str) -> list[dict[str, str]]:
        meta = pod.metadata
        return [
            {"key": TAG_NODE, "value": node_name},
            {"key": TAG_UID, "value": meta.uid},
            {"key": TAG_NAMESPACE, "value": meta.namespace},
            {"key": TAG_NAME, "value": meta.name},
            *self._extra_tags(),
        ]

    async def _run_task(self, pod: pod_pb2.Pod, task_definition_arn: str, node_name: str) -> dict[str, Any]:
        meta = pod.metadata
        tags = self._pod_tags(pod, node_name)
        if pod.revision and len(pod.revision) <= 256:
            tags.append({"key": TAG_REVISION, "value": pod.revision})
        answer = await backend.call(
            "RunTask",
            self.clients.ecs.run_task,
            cluster=self.config.cluster,
            taskDefinition=task_definition_arn,
            launchType="FARGATE",
            platformVersion=self.config.platform_version,
            count=1,
            startedBy=started_by(node_name),
            clientToken=meta.uid,
            tags=tags,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(self.config.subnets),
                    "securityGroups": list(self.config.security_groups),
                    "assignPublicIp": "ENABLED" if self.config.assign_public_ip else "DISABLED",
                }
            },
        )
        tasks = answer.get("tasks", [])
        if tasks:
            return dict(tasks[0])
        failures = answer.get("failures", [])
        detail = "; ".join(f"{f.get('reason', '')} {f.get('detail', '')}".strip() for f in failures) or "no task"
        if any("RESOURCE" in str(f.get("reason", "")).upper() for f in failures):
            raise errors.ResourceExhausted(f"RunTask: ECS could not place the task: {detail}", retry_after=30.0)
        raise errors.Unavailable(f"RunTask: ECS started no task: {detail}", reason="RunTaskFailed")

    async def describe(self, arns: list[str], *, tags: bool = False) -> tuple[list[dict[str, Any]], set[str]]:
        """DescribeTasks in batches of :data:`DESCRIBE_BATCH`: the tasks found and the ARNs ECS says are missing."""
        found: list[dict[str, Any]] = []
        missing: set[str] = set()
        for start in range(0, len(arns), DESCRIBE_BATCH):
            batch = arns[start : start + DESCRIBE_BATCH]
            kwargs: dict[str, Any] = {"cluster": self.config.cluster, "tasks": batch}
            if tags:
                kwargs["include"] = ["TAGS"]
            answer = await backend.call("DescribeTasks", self.clients.ecs.describe_tasks, **kwargs)
            found.extend(dict(task) for task in answer.get("tasks", []))
            missing.update(str(f.get("arn", "")) for f in answer.get("failures", []) if f.get("reason") == "MISSING")
        return found, missing

    async def _adopt(self, node_name: str) -> None:
        arns: list[str] = []
        paginator = self.clients.ecs.get_paginator("list_tasks")
        desired_states: tuple[Literal["RUNNING", "STOPPED"], ...] = ("RUNNING", "STOPPED")
        for desired in desired_states:

            def pages(desired: Literal["RUNNING", "STOPPED"] = desired) -> list[str]:
                return [
                    arn
                    for page in paginator.paginate(
                        cluster=self.config.cluster, startedBy=started_by(node_name), desiredStatus=desired
                    )
                    for arn in page.get("taskArns", [])
                ]

            arns += await backend.call("ListTasks", pages)
        tasks, _ = await self.describe(sorted(set(arns)), tags=True)
        secrets = await secretstore.of_node(self.clients, node_name)
        layouts: dict[str, Layout] = {}
        for task in tasks:
            tags = {str(t.get("key")): str(t.get("value", "")) for t in task.get("tags", [])}
            uid = tags.get(TAG_UID)
            if tags.get(TAG_NODE) != node_name or not uid:
                continue
            previous = self._tasks.get(uid)
            if previous is not None and not previous.stopped:
                continue  # two tasks for one UID cannot come from this provider (clientToken); keep the running one
            definition_arn = str(task.get("taskDefinitionArn", ""))
            if definition_arn not in layouts:
                described = await backend.call(
                    "DescribeTaskDefinition",
                    self.clients.ecs.describe_task_definition,
                    taskDefinition=definition_arn,
                )
                layouts[definition_arn] = from_definitions(described["taskDefinition"].get("containerDefinitions", []))
            family = definition_arn.rsplit("/", 1)[-1].split(":", 1)[0]
            ref = pod_pb2.PodRef(uid=uid, namespace=tags.get(TAG_NAMESPACE, ""), name=tags.get(TAG_NAME, ""))
            pod_task = PodTask(
                ref, tags.get(TAG_REVISION, ""), str(task["taskArn"]), family, layouts[definition_arn], task
            )
            pod_task.deleting = task.get("desiredStatus") == "STOPPED" and not pod_task.stopped
            pod_task.secrets = tuple(secrets.get(uid, ()))
            self._tasks[uid] = pod_task
            self._families.setdefault(family, definition_arn)
            self._family_users.setdefault(family, set()).add(uid)
            self.pods.publish(pod_task.record())
        for uid, arns in sorted(secrets.items()):
            if uid not in self._tasks:
                for secret in arns:
                    log.info(
                        "secret %s belongs to no task of node %s (an interrupted create): deleting", secret, node_name
                    )
                    await self._delete_secret(secret)
        log.info("adopted %d task(s) of node %s in cluster %s", len(self._tasks), node_name, self.config.cluster)

    # -- logs -----------------------------------------------------------------------------------------------------

    async def get_container_logs(
        self, request: logs_pb2.GetContainerLogsRequest
    ) -> AsyncIterator[logs_pb2.GetContainerLogsResponse]:
        pod_task = self._tasks.get(request.pod.uid)
        if pod_task is None:
            raise errors.NotFound(f"pod {request.pod.namespace}/{request.pod.name} is unknown to this provider")
        if not pod_task.layout.has_container(request.container):
            raise errors.NotFound(
                f"pod {pod_task.ref.namespace}/{pod_task.ref.name} has no container {request.container!r}"
            )
        stream = cloudwatch.stream_name(self.config.log_stream_prefix, request.container, pod_task.task_arn)

        async def stopped() -> bool:
            current = self._tasks.get(pod_task.ref.uid)
            if current is None or current.stopped:
                return True
            for entry in (*current.pod_status().container_statuses, *current.pod_status().init_container_statuses):
                if entry.name == request.container:
                    return entry.state.WhichOneof("state") == "terminated"
            return False

        async for response in cloudwatch.read_logs(
            self.clients.logs, request, group=self.config.log_group, stream=stream, stopped=stopped
        ):
            yield response


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("cleaning up a pod failed", exc_info=task.exception())


__all__ = ["DESCRIBE_BATCH", "FargateProvider", "PodTask", "capabilities", "started_by"]

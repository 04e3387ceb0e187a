"""One virtual node's runtime: its own API server client and identity, provider client, Node, Lease, informers,
pod queues and kubelet API, all under one task group. The process runs one or several of them (:mod:`.app`).

Start-up order: handshake with the provider (retried until it answers, so the Node is registered with the
provider's real capacity, never an invented one), register or adopt the Node, then run concurrently: the Lease,
node status, provider health checks, the provider's status stream, the pod watch, the two pod queues and the
kubelet API (``--kubelet-port``).

The node's API server client is made in one place, :func:`kube_client`, from the node's own settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from vk_controller import __version__
from vk_controller.kube import KubeClient, load_config
from vk_controller.kube.bootstrap import keep_rotated, node_credentials
from vk_controller.kube.events import EventRecorder
from vk_controller.kube.informer import Informer
from vk_controller.kube.objects import KubeObjects
from vk_controller.kube.references import ReferencedObjects
from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.server import ServerSettings, serve_kubelet_api
from vk_controller.metrics import Metrics
from vk_controller.node.lease import LeaseKeeper
from vk_controller.node.notready import mark_not_ready
from vk_controller.node.registration import NodeSpec, default_address, register
from vk_controller.node.status import NodeStatus
from vk_controller.pods.controller import PodController, is_retryable
from vk_controller.pods.provider_state import ProviderState
from vk_controller.pods.resolved import ClusterDNS
from vk_controller.pods.resolver import Resolver, ResolverSettings
from vk_controller.provider.capabilities import Capabilities, capabilities
from vk_controller.provider.client import PodGone, ProviderClient, Synced, TLSSettings
from vk_controller.provider.nodetemplate import node_template
from vk_controller.provider.pods import ProviderPods
from vk_controller.provider.records import ProviderPod
from vk_controller.provider.version import ProtocolMismatch
from vk_controller.settings import Settings
from vk_controller.workqueue import run_workers
from vk_provider_sdk.errors import ProviderError

log = logging.getLogger(__name__)

#: Node features declared in ``status.declaredFeatures``: the API server then proxies WebSocket exec/attach (v5)
#: and port-forward tunnels to the kubelet API as they are, instead of translating them to SPDY.
DECLARED_FEATURES = ("ExtendWebSocketsToKubelet",)


def kube_client(settings: Settings) -> KubeClient:
    """The node's client for the API server, with the node's own credentials (``--kubeconfig``, in-cluster else)."""
    config = load_config(settings.kubeconfig, settings.kube_context)
    return KubeClient(config, user_agent=f"vk-controller/{__version__}")


class NodeRuntime:
    """Everything one virtual node runs; nothing in it is shared with another node of the same process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.kube = kube_client(settings)
        self.provider = ProviderClient(
            settings.provider_address,
            tls=TLSSettings(
                ca=settings.provider_tls_ca,
                cert=settings.provider_tls_cert,
                key=settings.provider_tls_key,
                server_name=settings.provider_tls_server_name,
            ),
            call_timeout=settings.provider_call_timeout,
            ping_timeout=settings.provider_ping_timeout,
            metrics=self.metrics,
        )
        self.events = EventRecorder(self.kube, host=settings.node_name)
        self.provider_state = ProviderState()
        self.capabilities = Capabilities()
        self.provider_name = ""
        self.node_status: NodeStatus | None = None
        self.pods: PodController | None = None
        self.references: ReferencedObjects | None = None
        self._node: dict[str, Any] = {}
        #: Why the provider is refused (another protocol major), while it is; see :meth:`_refuse`.
        self._refusal: str | None = None
        self._refusal_written = float("-inf")
        # Service links need every service of a pod's namespace: watch them, as the kubelet does.
        self.services = Informer(self.kube, "/api/v1/services", on_change=lambda _key: None)

    async def _handshake(self) -> Any:
        delay = 0.2
        while True:
            try:
                handshake = await self.provider.handshake(
                    node_name=self.settings.node_name, controller_version=__version__
                )
                self._accept()
                return handshake
            except ProtocolMismatch as error:
                await self._refuse(error)
                await asyncio.sleep(self.settings.provider_ping_interval)
            except ProviderError as error:
                if not error.retryable:
                    raise
                log.warning(
                    "provider at %s not reachable yet (%s); retrying in %.1fs", self.provider.address, error, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _refuse(self, error: ProtocolMismatch) -> None:
        """A provider of another protocol major: run nothing through it, keep the Node NotReady (reason
        ProtocolMismatch) and say why, until a Handshake succeeds again (a provider of the right major is picked up
        without a restart)."""
        if error.message != self._refusal:
            log.error("provider refused, no pods run through it until that changes: %s", error.message)
        self._refusal = error.message
        if self.node_status is not None:  # running: the node status loop writes it (and the ping loop keeps it)
            self.node_status.set_health(False, "ProtocolMismatch", error.message)
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._refusal_written < self.settings.lease_renew_interval:
            return
        self._refusal_written = loop.time()
        try:
            if not await mark_not_ready(
                self.kube, self.settings.node_name, reason="ProtocolMismatch", message=error.message
            ):
                log.warning("node %s is not registered: it will be once the provider matches", self.settings.node_name)
        except Exception as failure:  # the API server's trouble must not end the wait for a matching provider
            log.warning("cannot mark node %s NotReady: %s", self.settings.node_name, failure)

    def _accept(self) -> None:
        """A Handshake succeeded: a refusal, if there was one, is over."""
        if self._refusal is not None:
            negotiated = self.provider.negotiated
            log.info("provider accepted again: %s", negotiated.summary() if negotiated else "")
            self._refusal = None

    def _node_spec(self, handshake: Any) -> NodeSpec:
        template = node_template(
            handshake.node, provider_name=handshake.provider_name, provider_version=handshake.provider_version
        )
        return NodeSpec(
            name=self.settings.node_name,
            template=template,
            extra_labels=self.settings.node_labels,
            taint_key=self.settings.taint_key,
            disable_taint=self.settings.disable_taint,
            address=self.settings.node_address or default_address(),
            kubelet_port=self.settings.kubelet_port,
            declared_features=DECLARED_FEATURES,
        )

    def _kubelet_context(self) -> KubeletContext:
        def pod(namespace: str, name: str) -> dict[str, Any] | None:
            return self.pods.pods.get(f"{namespace}/{name}") if self.pods is not None else None

        return KubeletContext(
            node_name=self.settings.node_name,
            pod=pod,
            pods=lambda: list(self.pods.pods.values()) if self.pods is not None else [],
            provider=self.provider,
            capabilities=lambda: self.capabilities,
            provider_name=self.provider_name,
            running_pods=lambda: [r for p in self.provider_state.pods() if (r := p.running()) is not None],
        )

    def _kubelet_server(self, spec: NodeSpec) -> ServerSettings:
        settings = self.settings
        return ServerSettings(
            address=settings.kubelet_address,
            port=settings.kubelet_port,
            tls_cert_file=settings.tls_cert_file,
            tls_key_file=settings.tls_private_key_file,
            client_ca_file=settings.client_ca_file,
            anonymous_auth=settings.anonymous_auth,
            node_addresses=(spec.address,),
        )

    async def run(self) -> None:
        handshake = await self._handshake()
        log.info(
            "provider %s %s (protocol %d.%d) at %s",
            handshake.provider_name,
            handshake.provider_version,
            handshake.protocol_version.major,
            handshake.protocol_version.minor,
            self.provider.address,
        )
        spec = self._node_spec(handshake)
        caps = self.capabilities = capabilities(handshake.capabilities)
        self.provider_name = handshake.provider_name
        lease = LeaseKeeper(
            self.kube,
            node_name=self.settings.node_name,
            node_uid=lambda: str(self._node["metadata"]["uid"]) if self._node else None,
            duration_seconds=self.settings.lease_duration,
            renew_interval=self.settings.lease_renew_interval,
            holder_identity=self.settings.leader_elect_identity if self.settings.leader_elect else None,
            leader_election=self.settings.leader_elect,
            retry_period=self.settings.leader_elect_retry_period,
            metrics=self.metrics,
        )
        if self.settings.leader_elect:
            # One active replica per node: the node's own Lease is the lock (a node may touch no other Lease).
            await lease.acquire()
        async with asyncio.TaskGroup() as group:
            group.create_task(self.events.run(), name="events")
            if (certificate := node_credentials(self.settings)) is not None and certificate.rotate:
                group.create_task(keep_rotated(self.kube, certificate), name="certificate-rotation")
            self._node = await register(self.kube, spec, self.events)
            self.node_status = NodeStatus(
                self.kube, self.events, spec=spec, update_frequency=self.settings.node_status_update_frequency
            )
            self.node_status.set_node_uid(self._node["metadata"]["uid"])
            self.node_status.set_health(True, "KubeletReady", f"provider {handshake.provider_name} is healthy")
            references = self.references = ReferencedObjects(
                self.kube, on_change=lambda keys: self._references_changed(keys)
            )
            objects = KubeObjects(self.kube, services=self.services, references=references)
            self.pods = PodController(
                kube=self.kube,
                events=self.events,
                backend=ProviderPods(self.provider, include_pod_json=handshake.include_kubernetes_pod_json),
                provider=self.provider_state,
                node_name=self.settings.node_name,
                node_address=lambda: spec.address,
                provider_name=handshake.provider_name,
                resolve=Resolver(
                    objects,
                    ResolverSettings(
                        cluster_dns=(
                            ClusterDNS(self.settings.cluster_dns, self.settings.cluster_domain)
                            if self.settings.cluster_dns
                            else None
                        ),
                        node_allocatable=spec.template.allocatable,
                        api_server_host=self.settings.kubernetes_service_host,
                        api_server_port=self.settings.kubernetes_service_port,
                    ),
                ).resolve,
                can_update=caps.any_update or caps.volume_updates,
                references=references,
                refresh_in=objects.token_refresh_in,
                metrics=self.metrics,
            )
            self.metrics.watch_pods(self.pods.pods.values)
            group.create_task(lease.run(), name="lease")
            group.create_task(self.node_status.run(), name="node-status")
            group.create_task(self._ping_loop(), name="provider-ping")
            group.create_task(self._watch_node(handshake.provider_name, handshake.provider_version), name="node-watch")
            group.create_task(self._watch_provider(), name="provider-watch")
            group.create_task(self._watch_pods(), name="pod-informer")
            group.create_task(self.services.run(), name="service-informer")
            group.create_task(
                serve_kubelet_api(self._kubelet_context(), self.kube, self._kubelet_server(spec), self.metrics),
                name="kubelet-api",
            )
            workers = self.settings.pod_sync_workers
            for queue, handler in (
                (self.pods.sync_queue, self.pods.sync),
                (self.pods.status_queue, self.pods.sync_status),
            ):
                group.create_task(
                    run_workers(queue, handler, workers=workers, is_retryable=is_retryable, metrics=self.metrics)
                )
            log.info("node %s running", self.settings.node_name)

    def _references_changed(self, keys: Iterable[str]) -> None:
        if self.pods is not None:
            self.pods.references_changed(keys)

    async def _watch_pods(self) -> None:
        assert self.pods is not None
        informer = self.pods.pods
        watching = asyncio.create_task(informer.run())
        try:
            await informer.synced.wait()
            self.pods.kubernetes_synced()
            await watching
        finally:
            watching.cancel()  # not left behind when the node stops (or restarts) before the first list

    async def _watch_node(self, provider_name: str, provider_version: str) -> None:
        """Follow the provider's Node template (capacity, conditions, labels...) and keep the Node's status current.

        Taints are fixed at registration (NodeRestriction forbids a node to change its own); labels and the rest of
        the status follow the template.
        """
        assert self.node_status is not None
        status = self.node_status
        delay = 0.2
        while True:
            try:
                async for node in self.provider.watch_node():
                    template = node_template(node, provider_name=provider_name, provider_version=provider_version)
                    status.set_spec(dataclasses.replace(status.spec, template=template))
                    delay = 0.2
            except ProviderError as error:
                log.debug("provider node watch ended (%s); reopening in %.1fs", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _ping_loop(self) -> None:
        assert self.node_status is not None
        while True:
            health = await self.provider.ping()
            if self._refusal is not None:  # Ping may work while the versions do not match
                self.node_status.set_health(False, "ProtocolMismatch", self._refusal)
            elif health.healthy:
                self.node_status.set_health(True, "KubeletReady", "provider is healthy")
            else:
                self.node_status.set_health(False, health.reason, health.message or "provider is not healthy")
            await asyncio.sleep(self.settings.provider_ping_interval)

    async def _watch_provider(self) -> None:
        """Consume the provider's status stream forever, resyncing from its snapshot after every reconnect."""
        assert self.pods is not None
        pods = self.pods
        delay = 0.2
        first = True
        counted = self.metrics.status_events
        pod_events, gone_events, synced_events = (counted.labels(kind) for kind in ("pod", "deleted", "synced"))
        while True:
            if not first:
                self.metrics.status_reconnects.inc()
                try:
                    handshake = await self.provider.handshake(
                        node_name=self.settings.node_name, controller_version=__version__
                    )
                    self.capabilities = capabilities(handshake.capabilities)
                    self._accept()
                except ProtocolMismatch as error:
                    await self._refuse(error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                except ProviderError as error:
                    log.info("provider not back yet (%s); retrying in %.1fs", error, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
            first = False
            self.provider_state.begin_snapshot()
            try:
                async for event in self.provider.watch_pods():
                    if isinstance(event, Synced):
                        synced_events.inc()
                        vanished = self.provider_state.end_snapshot()
                        for pod in vanished:
                            pods.provider_gone(pod.key)
                        pods.provider_synced()
                        delay = 0.2
                        log.info("provider status stream synced: %d pods", len(self.provider_state))
                    elif isinstance(event, PodGone):
                        gone_events.inc()
                        self.provider_state.remove(event)
                        pods.provider_gone(f"{event.ref.namespace}/{event.ref.name}")
                    else:
                        pod_events.inc()
                        record = ProviderPod.from_record(event)
                        self.provider_state.put(record)
                        pods.provider_changed(record)
                log.warning("provider status stream ended; reconnecting")
            except ProviderError as error:
                log.warning("provider status stream failed (%s); reconnecting in %.1fs", error, delay)
            self.provider_state.synced = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.events.flush(), timeout=2)
        if self.references is not None:
            await self.references.close()  # its watches run outside the task group
        await self.provider.close()
        await self.kube.close()

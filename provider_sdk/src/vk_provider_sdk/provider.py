"""The interface a Python provider implements: one async class, in the protocol's own message types.

Design decisions:

- **Generated messages in, generated messages out.** A provider receives and returns the
  ``virtualkubelet.provider.v1`` messages, not a parallel set of Python classes: the ``.proto`` files are the
  documentation, new fields reach providers without an SDK release, and nothing is lost in translation.
- **No gRPC in provider code.** The server (``server.py``) owns contexts, status codes and streams. A provider raises
  :mod:`vk_provider_sdk.errors` exceptions and gets plain session objects (``sessions.py``) for exec, attach and
  port-forward.
- **Status goes through the hub.** The provider records every pod's latest ``PodRecord`` (and every deletion) in
  ``self.pods``, a :class:`~vk_provider_sdk.statushub.StatusHub`. ``WatchPods``, ``GetPod``, ``ListPods``,
  ``GetPodStatus`` and the idempotency check of ``CreatePod`` are all served from it, so every reader sees the same
  state and a provider writes that state in one place.
- **Optional capabilities have defaults that answer UNIMPLEMENTED**, so a provider declares and implements only
  what its backend can do. ``WatchNode`` has a working default (the Node now, then again after every
  :meth:`Provider.node_changed`), because the protocol makes it mandatory and most providers' Node never changes.
- **Handshake policy lives here, version checks in the server.** The server refuses a controller of another major
  version before the provider is asked; :meth:`Provider.handshake` remembers the node name and refuses another one.
"""

from __future__ import annotations

import abc
import asyncio
import importlib.metadata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from virtualkubelet.provider.v1 import (
    capabilities_pb2,
    handshake_pb2,
    logs_pb2,
    node_pb2,
    pod_pb2,
    pod_requests_pb2,
    stats_pb2,
    status_pb2,
    streaming_pb2,
)
from vk_provider_sdk import errors
from vk_provider_sdk.sessions import AttachSession, ExecSession, PortForwardConnection
from vk_provider_sdk.statushub import StatusHub

#: The protocol version this SDK speaks (docs/protocol.md, "Version negotiation").
PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0


def installed_version(distribution: str) -> str:
    """The installed version of a provider's distribution (for ``ProviderInfo.version``); 0.0.0 when not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


@dataclass(frozen=True)
class ProviderInfo:
    """What a provider says about itself in every HandshakeResponse; stable for the life of the process."""

    #: A DNS label such as ``"mock"``, ``"aci"``: used in the Node taint, labels, Events, metrics and error domains.
    name: str
    #: The provider's software version, for diagnostics.
    version: str
    #: What the backend can do, per operation and option. Declare only what the provider implements.
    capabilities: capabilities_pb2.Capabilities
    #: Ask the controller to send ``Pod.kubernetes_pod_json``.
    include_kubernetes_pod_json: bool = False
    #: The protocol version (major, minor) answered in Handshake and checked against the controller's major: the
    #: SDK's own. Only a test double sets another, to play a provider of another version.
    protocol_version: tuple[int, int] = (PROTOCOL_MAJOR, PROTOCOL_MINOR)


class Provider(abc.ABC):
    """A backend for one virtual Node. Subclasses call ``super().__init__()`` and implement the abstract methods.

    Every method runs on the server's event loop; none may block it. Raise :class:`errors.ProviderError` subclasses
    for the outcomes the protocol names (:class:`errors.InvalidPod` for a pod that can never run, ...); anything else
    is reported as INTERNAL with a generic message and logged with its traceback.
    """

    def __init__(self) -> None:
        #: The latest record of every pod, and the WatchPods stream. The provider publishes here; see StatusHub.
        self.pods = StatusHub()
        #: Changes with every process start (HandshakeResponse.instance_id).
        self.instance_id = str(uuid.uuid4())
        #: The node name of the first Handshake; None before it.
        self.node_name: str | None = None
        self._node_version = 0
        self._node_changed = asyncio.Event()
        self._closed = False
        self._adopted = False
        self._adopt_lock = asyncio.Lock()

    # -- identity and health ------------------------------------------------------------------------------------

    @abc.abstractmethod
    def info(self) -> ProviderInfo:
        """Name, version and capabilities (the same answer every time)."""

    @abc.abstractmethod
    async def node(self) -> node_pb2.Node:
        """The Node's current state: capacity (with ``pods``), system info, labels, taints, conditions."""

    @abc.abstractmethod
    async def ping(self) -> node_pb2.PingResponse:
        """``HEALTHY``, or ``UNHEALTHY`` with a CamelCase reason and a message when the backend is unreachable."""

    async def handshake(self, request: handshake_pb2.HandshakeRequest) -> None:
        """Called for every Handshake after the version check. By default: serve the first node name, refuse others,
        and :meth:`adopt` that node's pods once."""
        if not request.node_name:
            return
        if self.node_name is not None and request.node_name != self.node_name:
            raise errors.NotReady(
                f"this provider instance serves node {self.node_name!r}, not {request.node_name!r}",
                reason="NodeNameMismatch",
            )
        self.node_name = request.node_name
        async with self._adopt_lock:  # concurrent Handshakes wait for the one adoption
            if not self._adopted:
                await self.adopt(request.node_name)
                self._adopted = True

    async def adopt(self, node_name: str) -> None:  # noqa: B027 - an optional hook, deliberately empty
        """Called once, during the first Handshake that names the node (again after a failure): publish the pods the
        backend already runs for ``node_name`` and start following it. The Handshake answers only after this, so the
        first WatchPods snapshot holds every pod the backend has."""

    # -- lifecycle of the provider itself -------------------------------------------------------------------------

    async def start(self) -> None:  # noqa: B027 - an optional hook, deliberately empty
        """Called once before the server accepts calls (e.g. to load state and publish known pods)."""

    async def close(self) -> None:  # noqa: B027 - an optional hook, deliberately empty
        """Called once after the server stopped (flush state, close backend clients)."""

    # -- pods -----------------------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def create_pod(self, pod: pod_pb2.Pod) -> pod_requests_pb2.CreatePodResponse:
        """Start running ``pod`` and publish its record; answer once the backend accepted it (usually PENDING).

        The server answers a repeated create of a UID that is in :attr:`pods` itself (``already_existed``), so this
        is called for UIDs the hub does not know; a provider whose backend may know the pod anyway (e.g. created
        before a restart and not yet listed) answers ``already_existed=True`` and creates nothing.
        """

    @abc.abstractmethod
    async def update_pod(self, pod: pod_pb2.Pod) -> status_pb2.PodStatus:
        """Apply the declared kinds of change (Capabilities.pod_update, volume_updates) and store ``pod.revision``.

        Raise NotFound for an unknown UID, NotReady for a terminating pod, Unimplemented if nothing is declared.
        """

    @abc.abstractmethod
    async def delete_pod(self, request: pod_requests_pb2.DeletePodRequest) -> pod_requests_pb2.DeletePodResponse:
        """Stop the pod: GONE (and :meth:`StatusHub.delete`) or TERMINATING (and ``delete`` when done).

        An unknown UID answers GONE. A repeated call never restarts the grace period; a shorter one takes effect.
        """

    async def get_pod(self, ref: pod_pb2.PodRef) -> status_pb2.PodRecord:
        """One pod's record. By default from :attr:`pods`; NotFound if unknown."""
        record = self.pods.get(ref.uid)
        if record is None:
            raise errors.NotFound(f"pod {ref.namespace}/{ref.name} (uid {ref.uid}) is unknown to this provider")
        return record

    async def list_pods(self) -> list[status_pb2.PodRecord]:
        """Every pod this provider has for the Node. By default from :attr:`pods`."""
        return self.pods.records()

    # -- the Node -------------------------------------------------------------------------------------------------

    def node_changed(self) -> None:
        """Tell WatchNode streams to send :meth:`node` again (bursts coalesce into one message per stream)."""
        self._node_version += 1
        self._node_changed.set()
        self._node_changed = asyncio.Event()

    async def watch_node(self) -> AsyncIterator[node_pb2.Node]:
        """The Node now, then after every :meth:`node_changed`, until the provider shuts down."""
        seen = -1
        while not self._closed:
            if seen != self._node_version:
                seen = self._node_version
                yield await self.node()
                continue
            await self._node_changed.wait()

    def stop_watches(self) -> None:
        """End every WatchNode and WatchPods stream (the server calls it when shutting down)."""
        self._closed = True
        self._node_changed.set()
        self.pods.close()

    # -- optional capabilities ------------------------------------------------------------------------------------

    async def get_container_logs(
        self, request: logs_pb2.GetContainerLogsRequest
    ) -> AsyncIterator[logs_pb2.GetContainerLogsResponse]:
        """Stream a container's log (capability ``logs``); see :mod:`vk_provider_sdk.logs` for the options."""
        raise errors.Unimplemented("container logs are not supported by this provider")
        yield  # pragma: no cover - makes this an async generator, like the overrides

    async def exec(self, session: ExecSession) -> streaming_pb2.ExitStatus:
        """Run ``session.start.command`` in a container (capability ``exec``); return how it ended."""
        raise errors.Unimplemented("exec is not supported by this provider")

    async def attach(self, session: AttachSession) -> streaming_pb2.ExitStatus | None:
        """Connect to a container's main process (capability ``attach``); return its exit if it exited, else None."""
        raise errors.Unimplemented("attach is not supported by this provider")

    async def port_forward(self, connection: PortForwardConnection) -> None:
        """Carry one TCP connection to a pod port (capability ``port_forward``)."""
        raise errors.Unimplemented("port-forward is not supported by this provider")

    async def get_stats_summary(self) -> stats_pb2.GetStatsSummaryResponse:
        """Resource usage of the Node, its pods and containers (capabilities ``stats``, ``metrics``)."""
        raise errors.Unimplemented("stats are not supported by this provider")


__all__ = ["PROTOCOL_MAJOR", "PROTOCOL_MINOR", "Provider", "ProviderInfo", "installed_version"]

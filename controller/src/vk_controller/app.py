"""The controller process: one virtual node, or several (``--nodes-config``), each a :class:`NodeRuntime` of its own,
plus what the process shares: ``/metrics`` (``--metrics-port``), the plain health endpoint (``--healthz-port``),
logging and tracing, signals and shutdown.

Nodes share nothing else: each has its own identity and API server client, provider client, Lease, informers,
queues and kubelet API port, so a provider that is down only makes its own node NotReady. With several nodes, a node
whose runtime fails (an error its loops do not retry, a lost leadership) is restarted on its own with backoff, and
``/healthz`` reports it failing meanwhile; with one node the failure ends the process, as it always did, so that the
exit code reaches the supervisor.

Shutdown (SIGTERM, SIGINT) cancels everything within ``shutdown_timeout`` and leaves the providers' pods running:
the next start adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from vk_controller.kube.bootstrap import bootstrap_nodes
from vk_controller.kubeletapi.health import serve_health
from vk_controller.metrics import Metrics, NodesExposition, serve_metrics
from vk_controller.runtime import NodeRuntime
from vk_controller.settings import Settings

log = logging.getLogger(__name__)

#: Backoff between restarts of a failed node (several nodes only), doubling up to the maximum.
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0


class Nodes:
    """The nodes of one process and their supervision."""

    def __init__(self, nodes: Sequence[Settings]) -> None:
        self.settings = list(nodes)
        # Made up front, so that a node whose kubeconfig cannot be used stops the start (ConfigError).
        self.runtimes = {node.node_name: NodeRuntime(node) for node in self.settings}
        self.failures: dict[str, str] = {}

    def metrics(self) -> dict[str, Metrics]:
        return {name: runtime.metrics for name, runtime in self.runtimes.items()}

    def health(self) -> dict[str, str | None]:
        return {f"node/{name}": self.failures.get(name) for name in self.runtimes}

    async def run(self) -> None:
        process = self.settings[0]  # the process-wide fields are the same in every node's settings
        async with asyncio.TaskGroup() as group:
            for node in self.settings:
                group.create_task(self._supervise(node), name=f"node {node.node_name}")
            if process.metrics_port:
                exposition = NodesExposition(self.metrics, labelled=len(self.settings) > 1)
                group.create_task(
                    serve_metrics(exposition, process.metrics_bind_address, process.metrics_port), name="metrics"
                )
            if process.healthz_port:
                group.create_task(
                    serve_health(process.healthz_bind_address, process.healthz_port, self.health), name="healthz"
                )

    async def _supervise(self, settings: Settings) -> None:
        name = settings.node_name
        if len(self.settings) == 1:
            await self.runtimes[name].run()
            return
        loop = asyncio.get_running_loop()
        delay = RESTART_DELAY
        runtime = self.runtimes[name]
        while True:
            started = loop.time()
            try:
                await runtime.run()
                raise RuntimeError("the node's runtime returned")
            except Exception as error:  # any failure of one node is that node's only
                self.failures[name] = _describe(error)
            with contextlib.suppress(Exception):
                await runtime.close()
            if loop.time() - started > MAX_RESTART_DELAY:
                delay = RESTART_DELAY  # it ran for a while: not a crash loop
            while True:
                log.error("node %s failed (%s); restarting it in %.0fs", name, self.failures[name], delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RESTART_DELAY)
                try:
                    runtime = NodeRuntime(settings)
                    break
                except Exception as error:  # e.g. its kubeconfig went away: try again later
                    self.failures[name] = _describe(error)
            self.runtimes[name] = runtime
            del self.failures[name]
            log.info("node %s restarted", name)

    async def close(self) -> None:
        await asyncio.gather(*(runtime.close() for runtime in self.runtimes.values()), return_exceptions=True)


def _describe(error: BaseException) -> str:
    """The leaf errors of ``error`` (task groups nest them), one line."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


async def serve(nodes: Settings | Sequence[Settings]) -> None:
    """Run until SIGTERM or SIGINT, then stop within ``shutdown_timeout``."""
    settings = [nodes] if isinstance(nodes, Settings) else list(nodes)
    await bootstrap_nodes(settings)  # nodes with --bootstrap-kubeconfig get their certificate first (CSR)
    running_nodes = Nodes(settings)
    timeout = settings[0].shutdown_timeout
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = asyncio.create_task(running_nodes.run(), name="controller")
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            running.result()  # a crash: raise it
        log.info("stopping; provider pods keep running for the next start to adopt")
    finally:
        running.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
            await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), timeout=timeout)
        await asyncio.wait_for(running_nodes.close(), timeout=timeout)

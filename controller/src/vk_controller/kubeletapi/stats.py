"""``/stats/summary`` and ``/metrics/resource``, both from one call to the provider's ``GetStatsSummary``.

Without the ``stats`` capability the summary is the node's name and nothing else (and the provider is not called);
without ``metrics`` the resource metrics carry only the node's samples. A failed call is a 500 for the summary, as
the kubelet answers (``Internal Error: ...``), and ``resource_scrape_error 1`` for the metrics, which stay 200.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from vk_controller.kubeletapi import resource_metrics
from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.cpurate import CpuRates
from vk_controller.kubeletapi.responses import json_response, text
from vk_controller.kubeletapi.summary import summary_json
from vk_controller.provider.stats import StatsSummary
from vk_provider_sdk.errors import ProviderError

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[StatsSummary]]


class StatsHandlers:
    def __init__(self, ctx: KubeletContext, fetch: Fetch) -> None:
        self._ctx = ctx
        self._fetch = fetch
        self._rates = CpuRates()

    async def _summary(self) -> StatsSummary:
        if not self._ctx.capabilities().stats:
            return StatsSummary(node=None, pods=())
        return self._rates.fill(await self._fetch())

    async def summary(self, request: web.Request) -> web.Response:
        values = request.query.getall("only_cpu_and_memory", [])
        only_cpu_and_memory = len(values) == 1 and values[0] == "true"
        try:
            summary = await self._summary()
        except ProviderError as error:
            log.warning("/stats/summary: the provider failed: %s", error)
            return text(500, f"Internal Error: failed to get stats from the provider: {error.message}")
        pods = {pod["metadata"].get("uid", ""): pod for pod in self._ctx.pods()}
        return json_response(
            summary_json(self._ctx.node_name, summary, pods=pods, only_cpu_and_memory=only_cpu_and_memory)
        )

    async def resource_metrics(self, request: web.Request) -> web.Response:
        summary: StatsSummary | None
        try:
            summary = await self._summary()
        except ProviderError as error:
            log.warning("/metrics/resource: the provider failed: %s", error)
            summary = None
        body = resource_metrics.render(summary, include_pods=self._ctx.capabilities().metrics)
        return web.Response(body=body.encode(), headers={"Content-Type": resource_metrics.CONTENT_TYPE})

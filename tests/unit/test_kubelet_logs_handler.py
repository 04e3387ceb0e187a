"""``/containerLogs`` over HTTP against a fake provider: the checks and their answers, the options the controller
applies for a provider that declared none, and streams that end early or are abandoned."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vk_controller.kubeletapi import logs
from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.provider.capabilities import Capabilities, LogOptions
from vk_controller.provider.client import ProviderClient
from vk_controller.provider.logs import LogBatch, LogEntry, LogQuery
from vk_provider_sdk import errors

S = 1_000_000_000


def pod(name: str, state: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "main"}], "initContainers": [{"name": "init"}]},
        "status": {
            "containerStatuses": [{"name": "main", "state": state, "lastState": last or {}}],
            "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}, "lastState": {}}],
        },
    }


PODS = {
    "running": pod("running", {"running": {}}),
    "creating": pod("creating", {"waiting": {"reason": "ContainerCreating"}}),
    "pulling": pod("pulling", {"waiting": {"reason": "ErrImagePull"}}),
    "backoff": pod("backoff", {"waiting": {"reason": "CrashLoopBackOff"}}, {"terminated": {"exitCode": 1}}),
    "unknown": {"metadata": {"name": "unknown", "uid": "u"}, "spec": {"containers": [{"name": "main"}]}},
}


class Provider:
    def __init__(self) -> None:
        self.queries: list[LogQuery] = []
        self.batches: list[LogBatch | Exception] = []
        self.then_wait = False
        self.closed = asyncio.Event()

    async def fetch(self, query: LogQuery) -> AsyncGenerator[LogBatch, None]:
        self.queries.append(query)
        try:
            for batch in self.batches:
                if isinstance(batch, Exception):
                    raise batch
                yield batch
            if self.then_wait:
                await asyncio.Event().wait()
        finally:
            self.closed.set()


def entries(*texts: str, at: int = 10) -> LogBatch:
    return LogBatch(
        entries=tuple(LogEntry(time_ns=(at + i) * S, stream="stdout", content=t.encode()) for i, t in enumerate(texts))
    )


@pytest.fixture
async def kubelet() -> AsyncIterator[tuple[TestServer, Provider, dict[str, Capabilities]]]:
    provider = Provider()
    declared = {"caps": Capabilities(logs=LogOptions(supported=True, follow=True, previous=True))}
    ctx = KubeletContext(
        node_name="vk-1",
        pod=lambda namespace, name: PODS.get(name) if namespace == "ns" else None,
        pods=lambda: list(PODS.values()),
        provider=cast(ProviderClient, None),
        capabilities=lambda: declared["caps"],
        provider_name="fake",
    )

    async def handler(request: web.Request) -> web.StreamResponse:
        return await logs.container_logs(request, ctx, provider.fetch, clock=lambda: 100 * S)

    app = web.Application()
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", handler)
    server = TestServer(app, handler_cancellation=True)
    await server.start_server()
    try:
        yield server, provider, declared
    finally:
        await server.close()


async def get(server: TestServer, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(server.make_url(path)) as response:
        return response.status, await response.text()


async def test_options_the_provider_did_not_declare_are_applied_here(kubelet: Any) -> None:
    server, provider, _ = kubelet
    provider.batches = [entries("a", "b", at=10), entries("c", "d", at=95)]

    status, body = await get(
        server, "/containerLogs/ns/running/main?tailLines=3&sinceSeconds=50&timestamps=1&limitBytes=40"
    )

    assert (status, body) == (200, "1970-01-01T00:01:35.000000000Z c\n1970-01")
    (query,) = provider.queries
    assert query == LogQuery(uid="uid-running", namespace="ns", name="running", container="main")


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/containerLogs/ns/missing/main", 404, 'pod "missing" does not exist'),
        ("/containerLogs/other/running/main", 404, 'pod "running" does not exist'),
        ("/containerLogs/ns/running/nope", 404, 'container "nope" not found in pod "running"'),
        ("/containerLogs/ns/running/main?tailLines=x", 400, '{"message": "Unable to decode query."}'),
        ("/containerLogs/ns/running/main?limitBytes=-3", 422, '{"message": "Invalid request."}'),
        (
            "/containerLogs/ns/creating/main",
            400,
            'container "main" in pod "creating" is waiting to start: ContainerCreating',
        ),
        (
            "/containerLogs/ns/pulling/main",
            400,
            'container "main" in pod "pulling" is waiting to start: image can\'t be pulled',
        ),
        (
            "/containerLogs/ns/running/main?previous=true",
            400,
            'previous terminated container "main" in pod "running" not found',
        ),
        ("/containerLogs/ns/unknown/main", 400, 'container "main" in pod "unknown" is not available'),
    ],
)
async def test_checks_answer_with_the_kubelets_status_and_text(kubelet: Any, path: str, status: int, text: str) -> None:
    server, provider, _ = kubelet

    assert await get(server, path) == (status, text)
    assert provider.queries == []


async def test_a_crash_looping_container_shows_its_last_instance_and_init_containers_have_logs(kubelet: Any) -> None:
    server, provider, _ = kubelet
    provider.batches = [entries("x")]

    assert await get(server, "/containerLogs/ns/backoff/main") == (200, "x\n")
    assert await get(server, "/containerLogs/ns/backoff/main?previous=true") == (200, "x\n")
    assert await get(server, "/containerLogs/ns/running/init") == (200, "x\n")
    assert [q.previous for q in provider.queries] == [False, True, False]


async def test_undeclared_follow_previous_or_logs_are_refused_clearly(kubelet: Any) -> None:
    server, provider, declared = kubelet
    declared["caps"] = Capabilities(logs=LogOptions(supported=True))

    status, text = await get(server, "/containerLogs/ns/running/main?follow=true")
    assert (status, text) == (
        400,
        "following logs (kubectl logs -f) is not supported by the provider 'fake' of node vk-1",
    )
    status, text = await get(server, "/containerLogs/ns/backoff/main?previous=true")
    assert status == 400
    assert "--previous" in text
    declared["caps"] = Capabilities()
    assert await get(server, "/containerLogs/ns/running/main") == (
        400,
        "container logs are not supported by the provider 'fake' of node vk-1",
    )
    assert provider.queries == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound("no such container"), 404),
        (errors.NotReady("container is not running"), 400),
        (errors.Unimplemented("logs"), 400),
        (errors.ResourceExhausted("slow down", retry_after=3), 429),
        (errors.Unavailable("backend down"), 500),
    ],
)
async def test_a_refusal_before_any_output_is_an_http_error(kubelet: Any, error: Exception, status: int) -> None:
    server, provider, _ = kubelet
    provider.batches = [error]

    answer = await get(server, "/containerLogs/ns/running/main")

    assert answer[0] == status
    assert str(error) in answer[1]


async def test_an_error_after_output_ends_the_stream_with_its_message(kubelet: Any) -> None:
    server, provider, _ = kubelet
    provider.batches = [entries("partial story"), errors.Unavailable("backend went away")]

    status, body = await get(server, "/containerLogs/ns/running/main")

    assert status == 200
    assert body == "partial story\nthe provider ended the log stream: backend went away\n"


async def test_a_quiet_follow_starts_the_response_and_a_departed_client_cancels_the_provider_call(
    kubelet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, provider, _ = kubelet
    monkeypatch.setattr(logs, "FIRST_BATCH_WAIT", 0.05)
    provider.then_wait = True

    async with aiohttp.ClientSession() as http:
        response = await http.get(server.make_url("/containerLogs/ns/running/main?follow=true"))
        assert response.status == 200
        assert response.headers["Transfer-Encoding"] == "chunked"
        response.close()
    await asyncio.wait_for(provider.closed.wait(), timeout=5)

"""The pytest plugin that connects the checks to a provider: options, report header, fixtures, order.

Load it with ``-p vk_conformance.plugin`` and collect ``--pyargs vk_conformance.checks``; ``vk-conformance`` does
both. The fixtures follow the controller's order of calls: ``handshake`` first, then ``watch`` (one WatchPods
stream for the whole run, opened before any pod exists), then ``pods`` (creates pods, and deletes every one of them
when the run ends). Everything lives for the whole run, on one event loop, so a slow backend pays for each shared
pod once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from virtualkubelet.provider.v1 import capabilities_pb2, handshake_pb2, pod_requests_pb2, provider_pb2_grpc
from vk_conformance import KIT_PROTOCOL_VERSION, __version__, checks
from vk_conformance.connection import DEFAULT_NODE_NAME, DEFAULT_TIMEOUT, Settings
from vk_conformance.expect import answer, fail
from vk_conformance.hook import ScriptedOutcomes, load_hook
from vk_conformance.pods import KitPod, PodFactory
from vk_conformance.versions import refused_as_another_major, version_note
from vk_conformance.watch import PodWatch

#: The order the checks run in: the protocol's order of calls, bookkeeping last (it looks back at the whole run).
MODULE_ORDER = (
    "test_handshake",
    "test_node",
    "test_pod_lifecycle",
    "test_pod_watch",
    "test_refusals",
    "test_logs",
    "test_exec",
    "test_attach",
    "test_port_forward",
    "test_stats",
    "test_update",
    "test_bookkeeping",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vk-conformance", "provider conformance kit")
    group.addoption("--target", dest="vk_target", default="", help="the provider: host:port or unix:/path")
    group.addoption(
        "--node-name",
        dest="vk_node_name",
        default=DEFAULT_NODE_NAME,
        help=f"node name sent in Handshake (default {DEFAULT_NODE_NAME})",
    )
    group.addoption("--tls-ca", dest="vk_tls_ca", type=Path, help="CA certificate to verify the provider (PEM)")
    group.addoption("--tls-cert", dest="vk_tls_cert", type=Path, help="client certificate for mTLS (PEM)")
    group.addoption("--tls-key", dest="vk_tls_key", type=Path, help="client key for mTLS (PEM)")
    group.addoption("--hook", dest="vk_hook", help="module:attr of a hook scripting a simulated backend")
    group.addoption(
        "--wait-timeout",
        dest="vk_timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds any single wait may take (default {DEFAULT_TIMEOUT:g})",
    )


def settings_from(config: pytest.Config) -> Settings:
    return Settings(
        target=config.getoption("vk_target"),
        node_name=config.getoption("vk_node_name"),
        timeout=config.getoption("vk_timeout"),
        tls_ca=config.getoption("vk_tls_ca"),
        tls_cert=config.getoption("vk_tls_cert"),
        tls_key=config.getoption("vk_tls_key"),
        hook=config.getoption("vk_hook"),
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.rootpath == Path(checks.__file__).parent:
        # Run by vk-conformance (rootdir = the checks): name checks "test_exec.py::test_x" wherever the kit is
        # installed, rather than by a long path relative to the current directory.
        config.cwd_relative_nodeid = lambda nodeid: nodeid  # type: ignore[method-assign]


@dataclass(frozen=True)
class _Probe:
    """The Handshake made when the session starts, for the report header (and to stop early if nothing answers)."""

    response: handshake_pb2.HandshakeResponse | None
    error: str = ""
    unreachable: bool = False
    #: The provider speaks another major version: nothing of this kit applies (see versions.py).
    other_major: str | None = None


_SETTINGS = pytest.StashKey[Settings]()
_HOOK = pytest.StashKey[ScriptedOutcomes]()
_PROBE = pytest.StashKey[_Probe]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Check the options, load the hook and make a first Handshake, before any check runs."""
    config = session.config
    settings = settings_from(config)
    try:
        settings.validate()
        config.stash[_HOOK] = load_hook(settings.hook)
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error
    config.stash[_SETTINGS] = settings
    channel = settings.blocking_channel()
    try:
        response: handshake_pb2.HandshakeResponse = provider_pb2_grpc.ProviderServiceStub(channel).Handshake(
            settings.handshake_request(), timeout=min(settings.unary_deadline, 10.0)
        )
        probe = _Probe(response)
    except grpc.RpcError as error:
        code = error.code() if isinstance(error, grpc.Call) else None
        details = error.details() if isinstance(error, grpc.Call) else str(error)
        unreachable = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        error_text = f"{code.name if code else 'error'}: {details}"
        probe = _Probe(None, error_text, unreachable, refused_as_another_major(error))
    finally:
        channel.close()
    config.stash[_PROBE] = probe
    if probe.unreachable:
        raise pytest.UsageError(f"no provider answers at {settings.target} ({probe.error})")
    version = probe.response.protocol_version if probe.response is not None else None
    other_major = probe.other_major
    if version is not None and version.major != KIT_PROTOCOL_VERSION[0]:
        other_major = version_note(version.major, version.minor)
    if other_major is not None:
        pytest.exit(f"vk-conformance: {settings.target}: {other_major}", returncode=pytest.ExitCode.TESTS_FAILED)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash.get(_SETTINGS, None) or settings_from(config)
    major, minor = KIT_PROTOCOL_VERSION
    lines = [
        f"vk-conformance {__version__}: checks protocol virtualkubelet.provider.v1, version {major}.{minor}",
        f"target: {settings.target} (node name {settings.node_name!r}, waits up to {settings.timeout:g}s, "
        f"hook {settings.hook or 'none'}, {'mTLS' if settings.uses_tls else 'plaintext'})",
    ]
    probe = config.stash.get(_PROBE, None)
    if probe is None or probe.response is None:
        lines.append(f"provider: Handshake failed: {probe.error if probe else 'not tried'}")
        return lines
    response = probe.response
    version = response.protocol_version
    lines.append(
        f"provider: {response.provider_name or '(no name)'} {response.provider_version or '(no version)'}, "
        f"protocol {version.major}.{version.minor}, instance {response.instance_id or '(none)'}"
    )
    lines.append(f"capabilities: {declared_capabilities(response.capabilities)}")
    note = version_note(version.major, version.minor)
    if note is not None:
        lines.append(f"protocol: {note}")
    return lines


def declared_capabilities(capabilities: capabilities_pb2.Capabilities) -> str:
    """``logs(follow, tail_lines), exec(exit_status)``; ``none`` when nothing is declared."""
    parts = []
    for group, message in capabilities.ListFields():
        flags = [field.name for field, value in message.ListFields() if field.name != "supported" and value is True]
        supported = getattr(message, "supported", False)
        if supported or flags:
            parts.append(f"{group.name}({', '.join(flags)})" if flags else group.name)
    return ", ".join(parts) or "none"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def position(item: pytest.Item) -> int:
        module = item.module.__name__.rpartition(".")[2] if isinstance(item, pytest.Function) else ""
        return MODULE_ORDER.index(module) if module in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=position)


class RunningPod:
    """The shared long-running pod and the answer to its first CreatePod."""

    def __init__(self, kit_pod: KitPod, first_create: pod_requests_pb2.CreatePodResponse) -> None:
        self.kit_pod = kit_pod
        self.first_create = first_create


# Fixtures ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    return pytestconfig.stash[_SETTINGS]


@pytest.fixture(scope="session")
def hook(pytestconfig: pytest.Config) -> ScriptedOutcomes:
    """The ``--hook`` object (a no-op without one), loaded once per run."""
    return pytestconfig.stash[_HOOK]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def channel(settings: Settings) -> AsyncIterator[grpc.aio.Channel]:
    channel = settings.aio_channel()
    yield channel
    await channel.close()


@pytest.fixture(scope="session")
def stub(channel: grpc.aio.Channel) -> provider_pb2_grpc.ProviderServiceAsyncStub:
    return provider_pb2_grpc.ProviderServiceStub(channel)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def handshake(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> handshake_pb2.HandshakeResponse:
    """The provider's answer to the kit's Handshake (protocol 1.0, node ``--node-name``)."""
    return await answer(
        f"Handshake(node_name={settings.node_name!r}, protocol {KIT_PROTOCOL_VERSION[0]}.{KIT_PROTOCOL_VERSION[1]})",
        stub.Handshake(settings.handshake_request(), timeout=settings.unary_deadline),
    )


@pytest.fixture(scope="session")
def capabilities(handshake: handshake_pb2.HandshakeResponse) -> capabilities_pb2.Capabilities:
    return handshake.capabilities


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def watch(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, handshake: handshake_pb2.HandshakeResponse, settings: Settings
) -> AsyncIterator[PodWatch]:
    """The run's WatchPods stream, open (and past its snapshot) before the kit creates any pod."""
    watch = PodWatch(stub, timeout=settings.timeout)
    await watch.start()
    yield watch
    await watch.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def pods(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings, hook: ScriptedOutcomes, watch: PodWatch
) -> AsyncIterator[PodFactory]:
    """Makes the kit's pods; when the run ends, deletes every pod it created and waits until each is gone."""
    factory = PodFactory(stub, settings=settings, hook=hook, watch=watch)
    yield factory
    problems = await factory.delete_all()
    if problems:
        fail("cleaning up the kit's pods: " + "; ".join(problems))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def running_pod(pods: PodFactory) -> AsyncIterator[RunningPod]:
    """A pod that prints ``started`` and sleeps until deleted, shared by the checks that need a running container.

    The fixture only creates it; checks wait for the state they need (``await wait_running(watch, pod)``), so a pod
    that never runs fails those checks with what WatchPods said, not the fixture.
    """
    kit_pod = pods.runs("running")
    first = await pods.create(kit_pod)
    yield RunningPod(kit_pod, first)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def exited_pod(pods: PodFactory) -> KitPod:
    """A pod that prints ``conformance-hello`` and exits with code 3 (restart policy Never)."""
    kit_pod = pods.exits("exits-3", code=3)
    await pods.create(kit_pod)
    return kit_pod

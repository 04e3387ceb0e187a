"""Handshake: versions, identity, capabilities and the Node template (handshake.proto, node.proto)."""

from __future__ import annotations

import re

import grpc
import pytest

from virtualkubelet.provider.v1 import handshake_pb2, provider_pb2_grpc
from vk_conformance import KIT_PROTOCOL_VERSION
from vk_conformance.connection import Settings
from vk_conformance.expect import answer, fail, refusal
from vk_conformance.quantity import parse_quantity

pytestmark = pytest.mark.asyncio(loop_scope="session")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_REQUIRED_CAPACITY = ("cpu", "memory", "pods")


async def test_handshake_answers_protocol_major_1(handshake: handshake_pb2.HandshakeResponse) -> None:
    version = handshake.protocol_version
    if not handshake.HasField("protocol_version"):
        fail("expected a protocol_version in the Handshake answer; got none")
    if version.major != KIT_PROTOCOL_VERSION[0]:
        fail(
            f"expected protocol_version.major {KIT_PROTOCOL_VERSION[0]} (the package is virtualkubelet.provider.v1); "
            f"got {version.major}.{version.minor}"
        )


async def test_handshake_names_the_provider_with_a_dns_label(handshake: handshake_pb2.HandshakeResponse) -> None:
    name = handshake.provider_name
    if not _DNS_LABEL.match(name):
        fail(
            "expected provider_name to be a short lower-case DNS label (it goes into the Node's taint and labels); "
            f"got {name!r}"
        )


async def test_handshake_instance_id_is_stable_across_handshakes(
    handshake: handshake_pb2.HandshakeResponse, stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    again = await answer(
        "a second Handshake", stub.Handshake(settings.handshake_request(), timeout=settings.unary_deadline)
    )
    if not handshake.instance_id:
        fail("expected a non-empty instance_id (it changes only when the provider restarts); got ''")
    if again.instance_id != handshake.instance_id:
        fail(
            "expected the same instance_id from a second Handshake of the same provider process "
            f"(a change means a restart to the controller); got {handshake.instance_id!r}, then {again.instance_id!r}"
        )


async def test_handshake_from_a_newer_minor_version_is_accepted(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    major = KIT_PROTOCOL_VERSION[0]
    response = await answer(
        f"Handshake from a controller at protocol {major}.99 (minors may differ in both directions)",
        stub.Handshake(settings.handshake_request(major=major, minor=99), timeout=settings.unary_deadline),
    )
    if response.protocol_version.major != major:
        fail(f"expected protocol_version.major {major} in the answer; got {response.protocol_version.major}")


async def test_handshake_from_another_major_version_is_refused(
    stub: provider_pb2_grpc.ProviderServiceAsyncStub, settings: Settings
) -> None:
    await refusal(
        "Handshake from a controller at protocol 99.0",
        stub.Handshake(settings.handshake_request(major=99, minor=0), timeout=settings.unary_deadline),
        (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED),
    )


async def test_handshake_declares_consistent_capabilities(handshake: handshake_pb2.HandshakeResponse) -> None:
    if not handshake.HasField("capabilities"):
        fail("expected a capabilities message in the Handshake answer (all false is valid); got none")
    capabilities = handshake.capabilities
    for group, message in capabilities.ListFields():
        options = [field.name for field, value in message.ListFields() if field.name != "supported" and value is True]
        if options and hasattr(message, "supported") and not message.supported:
            fail(
                f"expected capabilities.{group.name}.supported when options of it are declared; "
                f"got {', '.join(options)} declared with supported=false"
            )
    if capabilities.metrics.supported and not capabilities.stats.supported:
        fail("expected capabilities.stats.supported when metrics.supported is declared (metrics come from stats)")


async def test_node_template_capacity_has_cpu_memory_and_pods(handshake: handshake_pb2.HandshakeResponse) -> None:
    if not handshake.HasField("node"):
        fail("expected a node template in the Handshake answer; got none")
    capacity = dict(handshake.node.capacity)
    missing = [name for name in _REQUIRED_CAPACITY if name not in capacity]
    if missing:
        fail(
            f"expected node.capacity to have {', '.join(_REQUIRED_CAPACITY)}; "
            f"got {capacity}, without {', '.join(missing)}"
        )
    for field_name, values in (("capacity", capacity), ("allocatable", dict(handshake.node.allocatable))):
        for resource, text in values.items():
            try:
                value = parse_quantity(text)
            except ValueError:
                fail(f"expected node.{field_name}[{resource!r}] to be a Kubernetes quantity; got {text!r}")
            if value < 0:
                fail(f"expected node.{field_name}[{resource!r}] not to be negative; got {text!r}")
    for resource in _REQUIRED_CAPACITY:
        if parse_quantity(capacity[resource]) <= 0:
            fail(
                f"expected node.capacity[{resource!r}] to be positive (no pod fits otherwise); "
                f"got {capacity[resource]!r}"
            )
    pods = parse_quantity(capacity["pods"])
    if pods != pods.to_integral_value():
        fail(f"expected node.capacity['pods'] to be a whole number; got {capacity['pods']!r}")


async def test_node_template_names_operating_system_and_architecture(
    handshake: handshake_pb2.HandshakeResponse,
) -> None:
    info = handshake.node.system_info
    for field_name, value, example in (
        ("operating_system", info.operating_system, "linux"),
        ("architecture", info.architecture, "amd64"),
    ):
        if not value or value != value.lower() or " " in value:
            fail(
                f"expected node.system_info.{field_name} in Go's spelling, e.g. {example!r} "
                f"(the scheduler matches kubernetes.io/os and /arch against it); got {value!r}"
            )

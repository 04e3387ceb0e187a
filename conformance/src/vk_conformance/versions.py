"""The kit is versioned with the protocol: it checks protocol :data:`~vk_conformance.KIT_PROTOCOL_VERSION`.

Before any check, the provider's own version (its Handshake answer) is compared with the kit's:

- **another major**: the run stops at once, failed, saying which kit to use (nothing of this kit applies to it);
- **an older minor**: the report says so, and a check of anything added after the provider's minor is skipped
  through :func:`require_minor` (the provider cannot know of it);
- **a newer minor**: the report says only the kit's minor is checked.
"""

from __future__ import annotations

import grpc

from virtualkubelet.provider.v1 import handshake_pb2
from vk_conformance import KIT_PROTOCOL_VERSION
from vk_conformance.expect import skip
from vk_provider_sdk import errors


def version_note(major: int, minor: int, *, kit: tuple[int, int] = KIT_PROTOCOL_VERSION) -> str | None:
    """What the report says about the provider's protocol version next to the kit's; None when they are equal."""
    kit_major, kit_minor = kit
    theirs, ours = f"{major}.{minor}", f"{kit_major}.{kit_minor}"
    if major != kit_major:
        return (
            f"the provider speaks protocol {theirs} and this kit checks protocol {ours}: the major versions must be "
            f"equal; check it with a vk-conformance of protocol {major}.x"
        )
    if minor < kit_minor:
        return (
            f"the provider speaks protocol {theirs}, older than this kit's {ours}: checks of what came after "
            f"{theirs} are skipped"
        )
    if minor > kit_minor:
        return f"the provider speaks protocol {theirs}, newer than this kit's {ours}: only {ours} is checked"
    return None


def refused_as_another_major(error: grpc.RpcError) -> str | None:
    """The report's sentence when the provider refused the kit's Handshake because of its version; else None."""
    code = error.code() if isinstance(error, grpc.Call) else None
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return (
            "the provider does not serve virtualkubelet.provider.v1 (Handshake is UNIMPLEMENTED): it speaks another "
            f"major version than this kit's {KIT_PROTOCOL_VERSION[0]}.{KIT_PROTOCOL_VERSION[1]}, or is no provider"
        )
    refusal = errors.from_rpc_error(error)
    if refusal.reason == "ProtocolVersionMismatch":
        return f"the provider refused the kit's Handshake because of the protocol version: {refusal.message}"
    return None


def require_minor(handshake: handshake_pb2.HandshakeResponse, minor: int, what: str) -> None:
    """Skip a check of ``what``, added in protocol 1.``minor``, for a provider of an older minor."""
    theirs = handshake.protocol_version
    if theirs.minor < minor:
        skip(f"{what} came with protocol {theirs.major}.{minor}; the provider speaks {theirs.major}.{theirs.minor}")


__all__ = ["refused_as_another_major", "require_minor", "version_note"]

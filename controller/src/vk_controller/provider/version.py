"""What the controller does with the protocol version a provider answers in Handshake (docs/protocol.md, "Version
negotiation and evolution").

- **Another major** (or no ``virtualkubelet.provider.v1`` service at all): :class:`ProtocolMismatch`. Nothing is run
  through that provider; the Node is NotReady with reason ``ProtocolMismatch`` and the Handshake is tried again, so a
  provider of the right major is picked up without a restart.
- **A newer minor**: it works; the controller uses only the features of its own minor, and says so in its log.
- **An older minor**: it works; every feature added after that minor (:data:`FEATURES_SINCE`) is turned off, and the
  log names them. A feature is looked up with :meth:`Negotiated.uses` wherever the controller would use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vk_provider_sdk.errors import ProviderError

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0

#: Each protocol feature the controller uses that came after 1.0, with the minor that added it (the changelog of
#: docs/protocol.md lists them). At 1.0 there are none, so no provider of major 1 has anything turned off.
FEATURES_SINCE: Mapping[str, int] = {}


class ProtocolMismatch(ProviderError):
    """The provider speaks another major version of the protocol: nothing can be done with it."""

    retryable = False
    default_reason = "ProtocolMismatch"


@dataclass(frozen=True)
class Negotiated:
    """The outcome of one Handshake: both versions and the features the provider's minor lacks."""

    provider: str
    major: int
    minor: int
    controller_minor: int = PROTOCOL_MINOR
    #: Features of this controller that are off for this provider, each with the minor that added it.
    disabled: Mapping[str, int] | None = None

    def uses(self, feature: str) -> bool:
        """Whether the controller may use ``feature`` (a key of :data:`FEATURES_SINCE`) with this provider."""
        return feature not in (self.disabled or {})

    def summary(self) -> str:
        """One log line: how the two versions relate and what that turns off."""
        theirs, ours = f"{self.major}.{self.minor}", f"{PROTOCOL_MAJOR}.{self.controller_minor}"
        if self.minor > self.controller_minor:
            return (
                f"provider {self.provider!r} speaks protocol {theirs}, newer than this controller's {ours}: "
                f"the controller uses only the features of {ours}"
            )
        if self.minor < self.controller_minor:
            off = ", ".join(f"{name} (since {PROTOCOL_MAJOR}.{minor})" for name, minor in (self.disabled or {}).items())
            return f"provider {self.provider!r} speaks protocol {theirs}, older than this controller's {ours}: " + (
                f"turned off for it: {off}" if off else "no feature of this controller needs turning off"
            )
        return f"provider {self.provider!r} speaks protocol {theirs}, as this controller does"


def negotiate(
    provider: str,
    major: int,
    minor: int,
    *,
    controller_minor: int = PROTOCOL_MINOR,
    features: Mapping[str, int] = FEATURES_SINCE,
) -> Negotiated:
    """The features both sides can use; :class:`ProtocolMismatch` if the majors differ."""
    if major != PROTOCOL_MAJOR:
        raise ProtocolMismatch(
            f"provider {provider!r} speaks protocol {major}.{minor}; this controller speaks "
            f"{PROTOCOL_MAJOR}.{controller_minor} and the major versions must be equal: deploy a provider of "
            f"protocol {PROTOCOL_MAJOR}.x (or a controller of protocol {major}.x)"
        )
    disabled = {name: since for name, since in features.items() if since > minor and since <= controller_minor}
    return Negotiated(provider, major, minor, controller_minor, disabled)


__all__ = ["FEATURES_SINCE", "PROTOCOL_MAJOR", "PROTOCOL_MINOR", "Negotiated", "ProtocolMismatch", "negotiate"]

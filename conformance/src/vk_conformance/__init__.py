"""The provider conformance kit: checks any provider, by address, against the protocol's semantics.

The kit is a pytest suite (``vk_conformance.checks``) plus a plugin (``vk_conformance.plugin``) that connects to
the provider and hands the checks their fixtures. ``vk-conformance --target ...`` runs both; a provider's own test
suite can run them too: ``pytest -p vk_conformance.plugin --pyargs vk_conformance.checks --target ...`` (there the
per-wait timeout is ``--wait-timeout``, so as not to clash with pytest-timeout's ``--timeout``).

The kit is versioned with the protocol: it checks the semantics of protocol :data:`KIT_PROTOCOL_VERSION`.
"""

from __future__ import annotations

from importlib import metadata

from vk_conformance.hook import ExecExpectation, Expectation, Hook

#: The protocol version (major, minor) whose semantics these checks encode.
KIT_PROTOCOL_VERSION = (1, 0)

try:
    __version__ = metadata.version("vk-conformance")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
    __version__ = "0+unknown"

__all__ = ["KIT_PROTOCOL_VERSION", "ExecExpectation", "Expectation", "Hook", "__version__"]

"""The image health probe's address: where a provider listening on an address can be reached from inside its
container (the probe itself runs against real providers in tests/integration/test_images.py)."""

from __future__ import annotations

import pytest

from vk_provider_sdk.healthcheck import probe_address


@pytest.mark.parametrize(
    ("listen", "probed"),
    [
        ("0.0.0.0:50051", "127.0.0.1:50051"),
        ("[::]:50051", "127.0.0.1:50051"),
        (":7000", "127.0.0.1:7000"),
        ("10.1.2.3:50051", "10.1.2.3:50051"),
        ("unix:/run/vk/provider.sock", "unix:/run/vk/provider.sock"),
    ],
)
def test_wildcard_listen_addresses_are_probed_on_loopback(listen: str, probed: str) -> None:
    assert probe_address(listen) == probed

"""Version negotiation: the controller's (provider/version.py) and the conformance kit's report (versions.py).

At 1.0 the controller has no feature that a provider of major 1 could lack, so the older-minor rule is checked with
a controller of a later minor and a table of features, as a later minor will have them.
"""

from __future__ import annotations

import pytest

from virtualkubelet.provider.v1 import handshake_pb2
from vk_conformance.versions import require_minor, version_note
from vk_controller.provider.version import PROTOCOL_MAJOR, PROTOCOL_MINOR, ProtocolMismatch, negotiate

FEATURES = {"pod_resize": 2, "image_volumes": 3, "user_namespaces": 5}


def test_another_major_is_a_mismatch_that_says_what_to_deploy() -> None:
    with pytest.raises(ProtocolMismatch) as raised:
        negotiate("acme", PROTOCOL_MAJOR + 1, 0)

    assert raised.value.reason == "ProtocolMismatch"
    assert not raised.value.retryable
    assert f"deploy a provider of protocol {PROTOCOL_MAJOR}.x" in raised.value.message


def test_the_same_version_turns_nothing_off() -> None:
    negotiated = negotiate("acme", PROTOCOL_MAJOR, PROTOCOL_MINOR)

    assert negotiated.summary() == f"provider 'acme' speaks protocol 1.{PROTOCOL_MINOR}, as this controller does"
    assert not negotiated.disabled


def test_a_newer_minor_turns_nothing_off_and_says_only_the_controllers_features_are_used() -> None:
    negotiated = negotiate("acme", 1, 9, controller_minor=3, features=FEATURES)

    assert not negotiated.disabled
    assert negotiated.uses("image_volumes")
    assert negotiated.summary() == (
        "provider 'acme' speaks protocol 1.9, newer than this controller's 1.3: the controller uses only the "
        "features of 1.3"
    )


def test_an_older_minor_turns_off_and_names_the_features_it_lacks() -> None:
    negotiated = negotiate("acme", 1, 2, controller_minor=3, features=FEATURES)

    assert negotiated.uses("pod_resize")
    assert not negotiated.uses("image_volumes")
    assert negotiated.uses("user_namespaces")  # not this controller's yet: nothing to turn off
    assert negotiated.summary() == (
        "provider 'acme' speaks protocol 1.2, older than this controller's 1.3: turned off for it: "
        "image_volumes (since 1.3)"
    )


def test_an_older_minor_without_missing_features_says_so() -> None:
    negotiated = negotiate("acme", 1, 0, controller_minor=1, features=FEATURES)

    assert negotiated.summary().endswith("no feature of this controller needs turning off")


def test_the_kit_says_when_a_providers_minor_is_older_than_its_own() -> None:
    assert version_note(1, 1, kit=(1, 3)) == (
        "the provider speaks protocol 1.1, older than this kit's 1.3: checks of what came after 1.1 are skipped"
    )
    assert version_note(1, 3, kit=(1, 3)) is None
    assert "the major versions must be equal" in (version_note(2, 0, kit=(1, 3)) or "")


def test_a_check_of_a_later_minor_is_skipped_for_an_older_provider() -> None:
    handshake = handshake_pb2.HandshakeResponse(protocol_version=handshake_pb2.ProtocolVersion(major=1, minor=0))

    with pytest.raises(pytest.skip.Exception, match=r"image volumes came with protocol 1\.3; the provider speaks 1\.0"):
        require_minor(handshake, 3, "image volumes")
    require_minor(handshake, 0, "pods")  # what 1.0 has runs

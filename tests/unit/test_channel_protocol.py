"""The pure parts of the streaming protocols: subprotocol choice, channel framing (binary and base64), the status
on the error channel, terminal-size JSON as it arrives (split or coalesced), the exec query, and port-forward's
ports and preamble."""

from __future__ import annotations

import json

import pytest

from vk_controller.kubeletapi.streaming import portforward, remotecommand, websocket
from vk_controller.kubeletapi.streaming.errors import RequestRefused, refused_by_provider
from vk_controller.kubeletapi.streaming.remotecommand import ResizeDecoder, SessionStatus, encode_status
from vk_controller.provider.sessions import Exit, TerminalSize
from vk_provider_sdk import errors

V5 = websocket.REMOTECOMMAND_PROTOCOLS["v5.channel.k8s.io"]
B64 = websocket.REMOTECOMMAND_PROTOCOLS["v4.base64.channel.k8s.io"]


def test_the_first_protocol_the_client_offers_wins() -> None:
    supported = websocket.REMOTECOMMAND_PROTOCOLS
    assert websocket.choose_subprotocol(["v4.channel.k8s.io", "v5.channel.k8s.io"], supported) == "v4.channel.k8s.io"
    assert websocket.choose_subprotocol(["x", "v5.channel.k8s.io"], supported) == "v5.channel.k8s.io"
    assert websocket.choose_subprotocol(None, supported) == ""  # no header: the binary channel protocol
    assert websocket.choose_subprotocol([], supported) == ""
    assert websocket.choose_subprotocol(["v9.channel.k8s.io"], supported) is None
    assert websocket.choose_subprotocol(["v5.channel.k8s.io"], websocket.PORT_FORWARD_PROTOCOLS) is None


def test_offered_protocols_are_read_from_comma_lists() -> None:
    assert websocket.offered(["v5.channel.k8s.io, v4.channel.k8s.io", "channel.k8s.io"]) == [
        "v5.channel.k8s.io",
        "v4.channel.k8s.io",
        "channel.k8s.io",
    ]
    assert websocket.offered(None) is None


def test_binary_and_base64_framing() -> None:
    assert websocket.encode_message(V5, 1, b"out") == b"\x01out"
    assert websocket.decode_message(V5, b"\x00in") == (0, b"in")
    assert websocket.encode_message(B64, 2, b"err") == "2ZXJy"
    assert websocket.decode_message(B64, "0aGk=") == (0, b"hi")
    assert websocket.decode_message(B64, "0not base64!") is None  # dropped, as the kubelet drops it
    assert websocket.decode_message(V5, b"") is None
    assert websocket.encode_message(V5, 1, b"") == b"\x01"  # the empty hello after the upgrade


def test_only_v5_has_a_close_channel() -> None:
    assert websocket.REMOTECOMMAND_PROTOCOLS["v5.channel.k8s.io"].version == 5
    assert all(p.version < 5 for name, p in websocket.REMOTECOMMAND_PROTOCOLS.items() if name != "v5.channel.k8s.io")
    assert {name for name, p in websocket.REMOTECOMMAND_PROTOCOLS.items() if p.base64} == {
        "base64.channel.k8s.io",
        "v4.base64.channel.k8s.io",
    }


# -- status -------------------------------------------------------------------------------------------------------


def test_success_and_non_zero_exit_in_v4_json() -> None:
    assert json.loads(encode_status(remotecommand.SUCCESS, 4)) == {"metadata": {}, "status": "Success"}
    status = remotecommand.status_for_exit(Exit(3), what="exec", exit_status=True)
    body = json.loads(encode_status(status, 5))
    assert body["status"] == "Failure"
    assert body["reason"] == "NonZeroExitCode"
    assert body["message"].startswith("command terminated with non-zero exit code")
    # The cause type travels under the JSON key "reason".
    assert body["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}


def test_v1_to_v3_report_failures_as_text_and_success_as_nothing() -> None:
    status = remotecommand.status_for_exit(Exit(2), what="exec", exit_status=True)
    assert encode_status(status, 3).startswith(b"command terminated with non-zero exit code")
    assert encode_status(remotecommand.SUCCESS, 1) == b""


def test_an_unknown_exit_status_is_a_failure_that_says_so() -> None:
    for declared in (False, True):
        status = remotecommand.status_for_exit(Exit(None), what="exec", exit_status=declared)
        assert not status.success
        assert status.exit_code is None
        body = json.loads(encode_status(status, 4))
        assert body["reason"] == "InternalError"
        assert "exit status of the command is unknown" in body["message"]
    undeclared = remotecommand.status_for_exit(Exit(None), what="exec", exit_status=False)
    assert "cannot report exit codes" in undeclared.message


def test_exec_without_an_exit_fails_and_attach_always_succeeds() -> None:
    assert not remotecommand.status_for_exit(None, what="exec", exit_status=True).success
    for exit in (None, Exit(0), Exit(5), Exit(None)):  # detached, or the main process ended in any way
        assert remotecommand.status_for_exit(exit, what="attach", exit_status=True) == remotecommand.SUCCESS


def test_exit_codes_clients_cannot_parse_stay_failures() -> None:
    status = remotecommand.status_for_exit(Exit(300), what="exec", exit_status=True)
    assert status == SessionStatus(
        success=False,
        message="command terminated with non-zero exit code: exit code 300",
        reason="NonZeroExitCode",
        exit_code=255,
    )


# -- terminal sizes -----------------------------------------------------------------------------------------------


def test_resize_objects_split_and_coalesced() -> None:
    decoder = ResizeDecoder()
    assert decoder.feed(b'{"Width":80,') == []
    assert decoder.feed(b'"Height":24}\n{"Width":100,"Height":30}\n{"Wid') == [
        TerminalSize(80, 24),
        TerminalSize(100, 30),
    ]
    assert decoder.feed(b'th":120,"Height":40}') == [TerminalSize(120, 40)]


def test_resize_keys_match_case_insensitively_and_junk_is_skipped() -> None:
    decoder = ResizeDecoder()
    data = b'junk {"width":10,"height":5} {"Width":"wide"} {"Width":70000,"Height":1} {"x":"}{"} {"Height":9}'
    assert decoder.feed(data) == [TerminalSize(10, 5), TerminalSize(0, 9)]


# -- the exec query -----------------------------------------------------------------------------------------------


def test_only_the_string_1_counts() -> None:
    options = remotecommand.options_from_query({"input": "1", "output": "true", "error": "1", "tty": "0"})
    assert options == remotecommand.Options(stdin=True, stdout=False, stderr=True, tty=False)


def test_a_terminal_drops_stderr_and_attach_can_override_it() -> None:
    query = {"output": "1", "error": "1", "tty": "1"}
    assert remotecommand.options_from_query(query) == remotecommand.Options(False, True, False, True)
    assert remotecommand.options_from_query(query, tty=False) == remotecommand.Options(False, True, True, False)


def test_at_least_one_stream_is_required() -> None:
    with pytest.raises(RequestRefused) as caught:
        remotecommand.options_from_query({"tty": "1", "output": "yes"})
    assert (caught.value.status, caught.value.message) == (400, "you must specify at least 1 of stdin, stdout, stderr")


def test_provider_errors_map_to_the_kubelets_http_statuses() -> None:
    assert refused_by_provider(errors.NotFound("gone"), "exec").status == 404
    throttled = refused_by_provider(errors.ResourceExhausted("slow", retry_after=2.2), "exec")
    assert (throttled.status, throttled.headers["Retry-After"]) == (429, "2")
    unsupported = refused_by_provider(errors.Unimplemented("no"), "attach")
    assert unsupported.status == 501
    assert unsupported.message.startswith("attach is not supported")
    assert refused_by_provider(errors.NotReady("not running"), "exec").status == 400
    assert refused_by_provider(errors.Internal("boom"), "exec").status == 500


# -- port-forward ---------------------------------------------------------------------------------------------------


def test_ports_come_repeated_or_comma_separated() -> None:
    assert portforward.ports_from_query(["8080,9090", "80"]) == [8080, 9090, 80]
    for bad in (["0"], ["65536"], ["http"], ["80,"], []):
        with pytest.raises(RequestRefused):
            portforward.ports_from_query(bad)


def test_the_port_preamble_is_two_little_endian_bytes() -> None:
    assert portforward.port_preamble(8080) == b"\x90\x1f"
    assert portforward.port_preamble(1) == b"\x01\x00"

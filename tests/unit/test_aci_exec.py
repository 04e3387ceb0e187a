"""The ACI exec request: one shell-quoted command string and a terminal size always."""

from __future__ import annotations

from virtualkubelet.provider.v1 import pod_pb2, streaming_pb2
from vk_provider_aci import execws
from vk_provider_sdk.sessions import ExecSession


def _session(command: list[str], size: streaming_pb2.TerminalSize | None = None) -> ExecSession:
    start = streaming_pb2.ExecStart(pod=pod_pb2.PodRef(uid="u"), container="main", command=command, tty=True)
    if size is not None:
        start.initial_terminal_size.CopyFrom(size)
    return ExecSession(start)


def test_the_argv_is_sent_as_one_shell_quoted_string() -> None:
    assert execws.command_line(["sh", "-c", "echo a; exit 3"]) == "sh -c 'echo a; exit 3'"
    assert execws.command_line(["ls", "/"]) == "ls /"


def test_the_terminal_size_is_the_user_s_or_80x24() -> None:
    assert execws.exec_request(_session(["ls"])) == {"command": "ls", "terminalSize": {"rows": 24, "cols": 80}}
    sized = execws.exec_request(_session(["ls"], streaming_pb2.TerminalSize(width=132, height=43)))
    assert sized["terminalSize"] == {"rows": 43, "cols": 132}

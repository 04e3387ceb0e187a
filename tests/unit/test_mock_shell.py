"""The mock's tiny shell: parsing, what each command does, and container processes compiled into timelines."""

from __future__ import annotations

import math

import pytest

from vk_provider_mock import shell
from vk_provider_mock.program import Listener, compile_process

FILES = {"/etc/config/app.yaml": b"mode: test\n"}
CONTEXT = shell.Context(env={"NAME": "world", "POD_IP": "10.244.0.9"}, hostname="web-0", read_file=FILES.get)


def drive(argv: list[str], stdin: list[bytes] | None = None) -> tuple[str, str, int | shell.Listen, float]:
    """Drive a program with a virtual clock: (stdout, stderr, status or the Listen it ended in, seconds slept)."""
    out = {"stdout": b"", "stderr": b""}
    chunks = list(stdin or [])
    slept = 0.0
    program = shell.run(argv, CONTEXT)
    answer: bytes | None = None
    while True:
        try:
            effect = program.send(answer)
        except StopIteration as stop:
            return out["stdout"].decode(), out["stderr"].decode(), stop.value, slept
        answer = None
        if isinstance(effect, shell.Write):
            out[effect.stream] += effect.data
        elif isinstance(effect, shell.Sleep):
            slept += effect.seconds
        elif isinstance(effect, shell.Listen):
            program.close()  # a program that listens is never resumed: it serves until stopped
            return out["stdout"].decode(), out["stderr"].decode(), effect, slept
        else:
            answer = chunks.pop(0) if chunks else None


def run(argv: list[str], stdin: list[bytes] | None = None) -> tuple[str, str, int, float]:
    """Drive a program that ends: (stdout, stderr, status, seconds slept)."""
    out, err, status, slept = drive(argv, stdin)
    assert isinstance(status, int), f"the program listens ({status}) instead of ending"
    return out, err, status, slept


def sh(script: str, stdin: list[bytes] | None = None) -> tuple[str, str, int, float]:
    return run(["sh", "-c", script], stdin)


def test_parse_splits_on_semicolons_newlines_and_logical_operators_outside_quotes() -> None:
    commands = shell.parse("echo 'a; b' && exit 3\necho \"c && d\" || true # done", {})

    assert commands == [
        shell.Command(";", ["echo", "a; b"]),
        shell.Command("&&", ["exit", "3"]),
        shell.Command(";", ["echo", "c && d"]),
        shell.Command("||", ["true"]),
    ]


def test_variables_expand_unquoted_and_in_double_quotes_but_not_in_single_quotes() -> None:
    assert shell.parse("echo $NAME \"${NAME}!\" '$NAME' \\$NAME $", {"NAME": "x"}) == [
        shell.Command(";", ["echo", "x", "x!", "$NAME", "$NAME", "$"])
    ]


def test_parse_keeps_stream_duplications_in_order_and_a_digit_is_a_descriptor_only_alone() -> None:
    commands = shell.parse("echo a >&2 2>&1; >&2 echo b&&echo c2>&1 '2'>& 2 x", {})

    assert commands == [
        shell.Command(";", ["echo", "a"], ((1, 2), (2, 1))),
        shell.Command(";", ["echo", "b"], ((1, 2),)),
        shell.Command("&&", ["echo", "c2", "2", "x"], ((1, 1), (1, 2))),
    ]


@pytest.mark.parametrize(
    "script",
    [
        "echo a | cat",
        "echo 'open",
        "echo > file",
        "&& echo",
        "echo a 2> errors",
        "echo a >&3",
        "echo a >&-",
        "echo a >&",
        "echo a >&2x",
        "cat < file",
    ],
)
def test_unsupported_or_broken_syntax_is_a_syntax_error(script: str) -> None:
    out, err, status, _ = sh(script)

    assert out == ""
    assert err.startswith("sh: syntax error:")
    assert status == 2


def test_echo_then_exit_writes_the_line_and_exits_with_the_code() -> None:
    assert sh("echo hi; exit 3") == ("hi\n", "", 3, 0.0)


def test_a_script_ends_with_the_status_of_its_last_command() -> None:
    assert sh("echo a; false")[2] == 1
    assert sh("false; echo a")[2] == 0


def test_and_and_or_skip_commands_by_status() -> None:
    assert sh("false && echo no || echo yes")[0] == "yes\n"
    assert sh("true || echo no; echo always")[0] == "always\n"


def test_echo_to_stderr_with_a_duplication_of_stdout() -> None:
    assert sh("echo to-stdout; echo to-stderr >&2") == ("to-stdout\n", "to-stderr\n", 0, 0.0)
    assert sh("echo to-stderr 1>&2; echo to-stdout") == ("to-stdout\n", "to-stderr\n", 0, 0.0)
    assert sh("echo -n a >& 2") == ("", "a", 0, 0.0)


def test_stderr_goes_to_stdout_with_2_to_1_and_duplications_apply_in_order_as_dup2() -> None:
    assert sh("frobnicate 2>&1") == ("sh: frobnicate: not found\n", "", 127, 0.0)
    assert sh("echo x 2>&1 >&2") == ("x\n", "", 0, 0.0), "stdout becomes what stderr is: stdout"
    assert sh("echo x >&2 2>&1") == ("", "x\n", 0, 0.0), "stderr becomes what stdout is: stderr"
    assert sh("sh -c 'echo out; echo err >&2' 2>&1") == ("out\nerr\n", "", 0, 0.0)
    assert sh("sh -c 'echo out; echo err >&2' >&2") == ("", "out\nerr\n", 0, 0.0)


def test_redirections_leave_status_and_stdin_alone_and_quoted_ones_are_words() -> None:
    assert sh("false >&2 || echo failed >&2") == ("", "failed\n", 0, 0.0)
    assert sh("cat >&2", [b"typed"]) == ("", "typed", 0, 0.0)
    assert sh(">&2; echo '>&2' \\>\\&2") == (">&2 >&2\n", "", 0, 0.0)


def test_sleep_accepts_units_and_infinity() -> None:
    assert sh("sleep 1; sleep 250ms; sleep 0.5s; sleep 1m")[3] == pytest.approx(61.75)
    assert math.isinf(sh("sleep infinity")[3])
    _, err, status, _ = sh("sleep soon")
    assert (err, status) == ("sleep: invalid time interval 'soon'\n", 1)


def test_unknown_commands_are_not_found_with_127() -> None:
    assert sh("frobnicate --all") == ("", "sh: frobnicate: not found\n", 127, 0.0)


def test_env_prints_the_environment_and_printenv_one_variable() -> None:
    assert run(["env"])[0] == "NAME=world\nPOD_IP=10.244.0.9\n"
    assert run(["printenv", "POD_IP"])[0] == "10.244.0.9\n"
    assert run(["printenv", "MISSING"])[2] == 1


def test_cat_prints_mounted_files_or_complains() -> None:
    assert run(["cat", "/etc/config/app.yaml"]) == ("mode: test\n", "", 0, 0.0)
    assert run(["cat", "/etc/passwd"]) == ("", "cat: /etc/passwd: No such file or directory\n", 1, 0.0)


def test_cat_without_arguments_copies_stdin_until_it_ends() -> None:
    assert run(["cat"], [b"one\n", b"two"]) == ("one\ntwo", "", 0, 0.0)


def test_sh_without_c_runs_each_line_of_stdin_until_exit() -> None:
    out, _, status, _ = run(["/bin/sh"], [b"echo one\nhost", b"name\nexit 5\necho never\n"])

    assert (out, status) == ("one\nweb-0\n", 5)


def test_a_script_process_becomes_a_timeline_of_lines_and_an_exit() -> None:
    timeline = compile_process(
        ["/bin/sh", "-c", "echo start; sleep 2; echo -n part; echo ial; exit 4"],
        CONTEXT,
        image="busybox",
        stdin_open=False,
    )

    assert [(line.offset, line.content) for line in timeline.lines] == [(0.0, b"start"), (2.0, b"partial")]
    assert (timeline.end, timeline.exit_code) == (2.0, 4)


def test_processes_the_mock_cannot_interpret_run_until_stopped_and_say_so() -> None:
    for argv in ([], ["nginx", "-g", "daemon off;"]):
        timeline = compile_process(argv, CONTEXT, image="nginx:1.27", stdin_open=False)

        assert timeline.end is None
        assert len(timeline.lines) == 1
        assert b"nginx:1.27" in timeline.lines[0].content
        assert b"simulated" in timeline.lines[0].content


def test_tcpsvd_listens_on_its_port_and_serves_with_its_program_without_returning() -> None:
    out, err, listens, slept = drive(["sh", "-c", "echo started; sleep 1; tcpsvd 0.0.0.0 8080 cat; echo never"])

    assert (out, err, slept) == ("started\n", "", 1.0)
    assert listens == shell.Listen(8080, ("cat",))
    assert drive(["/bin/tcpsvd", "-vE", "-c", "10", "-l0", "127.0.0.1", "9000", "echo", "hi"])[2] == shell.Listen(
        9000, ("echo", "hi")
    )


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["tcpsvd", "0", "8080"], "Usage: tcpsvd"),
        (["tcpsvd", "-c"], "Usage: tcpsvd"),
        (["tcpsvd", "0", "http", "cat"], "tcpsvd: bad port 'http'"),
        (["tcpsvd", "0", "65536", "cat"], "tcpsvd: bad port '65536'"),
        (["tcpsvd", "0", "0", "cat"], "tcpsvd: bad port '0'"),
        (["tcpsvd", "-x", "0", "8080", "cat"], "tcpsvd: invalid option -- 'x'"),
    ],
)
def test_tcpsvd_refuses_a_bad_command_line_with_status_1(argv: list[str], error: str) -> None:
    out, err, status, _ = run(argv)

    assert (out, status) == ("", 1)
    assert err.startswith(error)


def test_a_script_s_stderr_lines_stay_stderr_in_the_timeline() -> None:
    timeline = compile_process(
        ["sh", "-c", "echo out; echo err >&2; nope 2>&1"], CONTEXT, image="busybox", stdin_open=False
    )

    assert [(line.stream, line.content) for line in timeline.lines] == [
        ("stdout", b"out"),
        ("stderr", b"err"),
        ("stdout", b"sh: nope: not found"),
    ]
    assert (timeline.end, timeline.exit_code) == (0.0, 127)


def test_a_server_process_runs_until_stopped_and_its_timeline_says_when_what_listens() -> None:
    timeline = compile_process(
        ["sh", "-c", "echo started; sleep 2; tcpsvd 0.0.0.0 8080 cat"], CONTEXT, image="busybox", stdin_open=False
    )

    assert [(line.offset, line.content) for line in timeline.lines] == [(0.0, b"started")]
    assert timeline.end is None
    assert timeline.listener == Listener(2.0, 8080, ("cat",))
    assert compile_process(["sh", "-c", "sleep infinity"], CONTEXT, image="i", stdin_open=False).listener is None


def test_reading_stdin_blocks_forever_only_when_the_container_has_stdin() -> None:
    assert compile_process(["cat"], CONTEXT, image="i", stdin_open=True).end is None
    assert compile_process(["cat"], CONTEXT, image="i", stdin_open=False).end == 0.0

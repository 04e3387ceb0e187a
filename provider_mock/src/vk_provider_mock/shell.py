"""A tiny shell: what the mock's containers run, and what exec runs in them.

Supported: the commands ``echo [-n]``, ``sleep N|Ns|Nms|Nm|Nh|infinity``, ``exit [N]``, ``true``, ``false``, ``:``,
``env``/``printenv [NAME]``, ``cat [PATH...]`` (files of mounted configMap/secret/downwardAPI/projected volumes, or
standard input), ``hostname``, ``sh``/``bash -c 'SCRIPT'`` (or ``sh`` reading lines from standard input), and
busybox's TCP server ``tcpsvd [OPTIONS] IP PORT PROG [ARGS]``, which listens on PORT until the process is stopped and
runs ``PROG`` (a command of this shell, typically ``cat``: an echo server) for every connection, its standard input
and output being the connection. Scripts are commands separated by ``;``, newlines, ``&&`` and ``||``; words use
single quotes, double quotes and backslashes as in sh; ``$NAME`` and ``${NAME}`` expand from the container's
environment (unquoted or in double quotes). A command may duplicate its standard streams onto each other, in order,
as sh does: ``>&2`` or ``1>&2`` (stdout to stderr), ``2>&1`` (stderr to stdout), ``>&1``, ``2>&2``. Anything else
(pipes, redirections to files, loops, conditionals) is refused with a syntax error, and an unknown command prints
``sh: NAME: not found`` to stderr with status 127, as sh does.

Design decision: **the interpreter is a generator of effects**, not a coroutine that sleeps and writes. It yields
:class:`Write`, :class:`Sleep`, :class:`ReadStdin` and :class:`Listen` and receives what stdin returned. The same
program therefore runs two ways:

- exec drives it live (real sleeps, the user's stdin, output to the session), and so does port-forward for the
  program serving a connection (the connection being its stdin and stdout);
- a container's main process is *compiled* once into a timeline (which line at which offset, and when and how it
  exits) by driving it with a virtual clock. The mock then needs no task per container: it schedules one timer
  per pod for the next transition, derives logs from the timeline and the container's start time, and can resume
  after a restart from stored start times alone. A ``tcpsvd`` in a container's script becomes part of the timeline
  too (from which offset which port listens, and what serves each connection); port-forward runs that program live.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Literal

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True)
class Write:
    """The program writes ``data`` to ``stream``."""

    stream: Stream
    data: bytes


@dataclass(frozen=True)
class Sleep:
    """The program waits ``seconds`` (``math.inf``: forever)."""

    seconds: float


@dataclass(frozen=True)
class ReadStdin:
    """The program reads standard input; the driver sends back the next chunk, or None at its end."""


@dataclass(frozen=True)
class Listen:
    """The program listens on TCP ``port`` and, for every connection, runs ``argv`` with the connection as its
    standard input and output. It serves until it is stopped: a driver never resumes the program after this."""

    port: int
    argv: tuple[str, ...]


Effect = Write | Sleep | ReadStdin | Listen
#: A running program: yields effects, receives stdin chunks (for ReadStdin), returns its exit status.
Program = Generator[Effect, bytes | None, int]

SHELLS = frozenset({"sh", "bash", "ash", "dash"})
BUILTINS = (
    frozenset({"echo", "sleep", "exit", "true", "false", ":", "env", "printenv", "cat", "hostname", "tcpsvd"}) | SHELLS
)
#: The standard streams by file descriptor, for redirections.
FDS: dict[int, Stream] = {1: "stdout", 2: "stderr"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Context:
    """What a program can see of its container."""

    #: The container's environment, resolved (runtime values such as the pod IP substituted).
    env: Mapping[str, str]
    #: The pod's hostname.
    hostname: str = ""
    #: The content of a file at an absolute path in the container, or None if there is none.
    read_file: Callable[[str], bytes | None] = lambda _path: None


class ScriptError(ValueError):
    """The script uses syntax this shell does not have."""


@dataclass
class Command:
    """One command of a script: the connector before it, its words, and its redirections."""

    #: ``;``, ``&&`` or ``||``.
    connector: str
    argv: list[str]
    #: ``(fd, target)`` in the order written: ``>&2`` is ``(1, 2)``, ``2>&1`` is ``(2, 1)``.
    redirections: tuple[tuple[int, int], ...] = ()


def command_name(argv0: str) -> str:
    return posixpath.basename(argv0)


def is_builtin(argv0: str) -> bool:
    """Whether the mock can run this program (otherwise it is an image's own program)."""
    return command_name(argv0) in BUILTINS


def run(argv: list[str], context: Context) -> Program:
    """Run one command (no shell around it, as exec and container commands are run)."""
    if not argv:
        return 0
    name = command_name(argv[0])
    args = argv[1:]
    if name == "echo":
        newline = True
        if args[:1] == ["-n"]:
            newline, args = False, args[1:]
        yield Write("stdout", (" ".join(args) + ("\n" if newline else "")).encode())
        return 0
    if name == "sleep":
        return (yield from _sleep(args))
    if name == "exit":
        return _exit_code(args[0]) if args else 0
    if name in ("true", ":"):
        return 0
    if name == "false":
        return 1
    if name in ("env", "printenv"):
        return (yield from _env(args, context))
    if name == "cat":
        return (yield from _cat(args, context))
    if name == "hostname":
        yield Write("stdout", f"{context.hostname}\n".encode())
        return 0
    if name in SHELLS:
        return (yield from _shell(args, context))
    if name == "tcpsvd":
        return (yield from _tcpsvd(args))
    yield Write("stderr", f"sh: {name}: not found\n".encode())
    return 127


def run_script(script: str, context: Context) -> Program:
    """Run a script as ``sh -c`` would."""
    status, _exited = yield from _script(script, context)
    return status


def _script(script: str, context: Context) -> Generator[Effect, bytes | None, tuple[int, bool]]:
    """Run a script; returns its status and whether it ran ``exit``."""
    try:
        commands = parse(script, context.env)
    except ScriptError as error:
        yield Write("stderr", f"sh: syntax error: {error}\n".encode())
        return 2, False
    status = 0
    for command in commands:
        if (command.connector == "&&" and status != 0) or (command.connector == "||" and status == 0):
            continue
        argv = command.argv
        if not argv:  # only redirections: nothing runs, and that succeeds
            status = 0
            continue
        if command_name(argv[0]) == "exit":
            return (_exit_code(argv[1]) if len(argv) > 1 else status), True
        status = yield from redirected(run(argv, context), command.redirections)
    return status, False


def redirected(program: Program, redirections: tuple[tuple[int, int], ...]) -> Program:
    """Run ``program`` with its standard streams duplicated as ``redirections`` say, applied in order like dup2."""
    targets: dict[Stream, Stream] = {"stdout": "stdout", "stderr": "stderr"}
    for fd, target in redirections:
        targets[FDS[fd]] = targets[FDS[target]]
    if targets == {"stdout": "stdout", "stderr": "stderr"}:
        return (yield from program)
    answer: bytes | None = None
    try:
        while True:
            try:
                effect = program.send(answer)
            except StopIteration as stop:
                return int(stop.value)
            if isinstance(effect, Write):
                effect = Write(targets[effect.stream], effect.data)
            answer = yield effect
    finally:
        program.close()


def parse(script: str, env: Mapping[str, str]) -> list[Command]:
    """The commands of a script, each with the connector before it (``;``, ``&&`` or ``||``)."""
    commands: list[Command] = []
    connector = ";"
    argv: list[str] = []
    redirections: list[tuple[int, int]] = []
    for kind, value in _tokens(script, env):
        if kind == "word":
            argv.append(value)
            continue
        if kind == "redirect":
            redirections.append((int(value[0]), int(value[-1])))
            continue
        if argv or redirections:
            commands.append(Command(connector, argv, tuple(redirections)))
            argv, redirections = [], []
        elif value in ("&&", "||"):
            raise ScriptError(f"unexpected {value!r}")
        connector = value
    if argv or redirections:
        commands.append(Command(connector, argv, tuple(redirections)))
    elif connector in ("&&", "||"):
        raise ScriptError(f"the script ends with {connector!r}")
    return commands


def _tokens(script: str, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Words, operators and redirections (``"1>&2"``), with quotes removed and ``$NAME`` expanded."""
    tokens: list[tuple[str, str]] = []
    word: str | None = None  # None: no word started ('' is an empty quoted word)
    i, n = 0, len(script)

    def finish() -> None:
        nonlocal word
        if word is not None:
            tokens.append(("word", word))
            word = None

    while i < n:
        char = script[i]
        if char in " \t":
            finish()
            i += 1
        elif char in ";\n":
            finish()
            tokens.append(("op", ";"))
            i += 1
        elif script.startswith("&&", i) or script.startswith("||", i):
            finish()
            tokens.append(("op", script[i : i + 2]))
            i += 2
        elif char == "#" and word is None:
            while i < n and script[i] != "\n":
                i += 1
        elif char == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ScriptError("unterminated quoted string")
            word = (word or "") + script[i + 1 : end]
            i = end + 1
        elif char == '"':
            text, i = _double_quoted(script, i + 1, env)
            word = (word or "") + text
        elif char == "\\":
            if i + 1 < n and script[i + 1] != "\n":
                word = (word or "") + script[i + 1]
            i += 2
        elif char == "$":
            text, i = _expand(script, i, env)
            word = (word or "") + text
        elif char in "12" and word is None and script.startswith(">&", i + 1):
            # A digit alone before ">&" is the file descriptor to redirect, as in sh ("a2>&1" is the word "a2").
            target, i = _duplication(script, i + 1)
            tokens.append(("redirect", f"{char}>&{target}"))
        elif script.startswith(">&", i):
            finish()
            target, i = _duplication(script, i)
            tokens.append(("redirect", f"1>&{target}"))
        elif char in "|&<>()`":
            raise ScriptError(f"{char!r} is not supported by the mock's shell")
        else:
            word = (word or "") + char
            i += 1
    finish()
    return tokens


def _duplication(script: str, i: int) -> tuple[str, int]:
    """The target of ``>&N`` at ``script[i]`` (the ``>``) and the index after it; only 1 and 2 exist here."""
    j = i + 2
    while j < len(script) and script[j] in " \t":
        j += 1
    end = j
    while end < len(script) and script[end] not in " \t;\n|&<>()":
        end += 1
    target = script[j:end]
    if target not in ("1", "2"):
        shown = target or "nothing"
        raise ScriptError(f"'>&' needs 1 or 2 (stdout or stderr) in the mock's shell, not {shown}")
    return target, end


def _double_quoted(script: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
    text = ""
    while i < len(script):
        char = script[i]
        if char == '"':
            return text, i + 1
        if char == "\\" and i + 1 < len(script) and script[i + 1] in '"\\$`':
            text += script[i + 1]
            i += 2
        elif char == "$":
            value, i = _expand(script, i, env)
            text += value
        else:
            text += char
            i += 1
    raise ScriptError("unterminated quoted string")


def _expand(script: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
    """``$NAME`` or ``${NAME}`` at ``script[i]``; a lone ``$`` stays itself."""
    if script.startswith("${", i):
        end = script.find("}", i + 2)
        if end < 0:
            raise ScriptError("missing '}'")
        return env.get(script[i + 2 : end], ""), end + 1
    j = i + 1
    while j < len(script) and (script[j].isalnum() or script[j] == "_"):
        j += 1
    if j == i + 1:
        return "$", j
    return env.get(script[i + 1 : j], ""), j


def parse_sleep(text: str) -> float:
    """Seconds from ``sleep``'s argument: ``5``, ``0.5``, ``5s``, ``100ms``, ``2m``, ``1h``, ``infinity``."""
    if text in ("infinity", "inf"):
        return math.inf
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)):
        if text.endswith(suffix):
            number, factor = text[: -len(suffix)], scale
            break
    else:
        number, factor = text, 1.0
    seconds = float(number) * factor
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(text)
    return seconds


def _sleep(args: list[str]) -> Program:
    if not args:
        yield Write("stderr", b"sleep: missing operand\n")
        return 1
    try:
        seconds = sum(parse_sleep(arg) for arg in args)
    except ValueError:
        yield Write("stderr", f"sleep: invalid time interval '{' '.join(args)}'\n".encode())
        return 1
    yield Sleep(seconds)
    return 0


def _exit_code(text: str) -> int:
    try:
        return int(text) & 0xFF
    except ValueError:
        return 2


def _env(args: list[str], context: Context) -> Program:
    if args:
        value = context.env.get(args[0])
        if value is None:
            return 1
        yield Write("stdout", f"{value}\n".encode())
        return 0
    text = "".join(f"{name}={value}\n" for name, value in context.env.items())
    yield Write("stdout", text.encode())
    return 0


def _cat(paths: list[str], context: Context) -> Program:
    if not paths or paths == ["-"]:
        while (chunk := (yield ReadStdin())) is not None:
            yield Write("stdout", chunk)
        return 0
    status = 0
    for path in paths:
        content = context.read_file(path)
        if content is None:
            yield Write("stderr", f"cat: {path}: No such file or directory\n".encode())
            status = 1
        else:
            yield Write("stdout", content)
    return status


_TCPSVD_USAGE = b"Usage: tcpsvd [-hEv] [-c N] [-C N[:MSG]] [-b N] [-u USER] [-l NAME] IP PORT PROG\n"


def _tcpsvd(args: list[str]) -> Program:
    """busybox's ``tcpsvd``: options are accepted and ignored; the IP is not checked (port-forward reaches any)."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        option = args[i]
        i += 1
        if option == "--":
            break
        for index, letter in enumerate(option[1:], start=1):
            if letter in "cCbul":  # takes a value: the rest of this argument, or the next one
                if index == len(option) - 1:
                    i += 1
                break
            if letter not in "hEv":
                yield Write("stderr", f"tcpsvd: invalid option -- '{letter}'\n".encode() + _TCPSVD_USAGE)
                return 1
    rest = args[i:]
    if len(rest) < 3:
        yield Write("stderr", _TCPSVD_USAGE)
        return 1
    _ip, port_text, *argv = rest
    port = int(port_text) if port_text.isascii() and port_text.isdigit() else 0
    if not 0 < port < 65536:
        yield Write("stderr", f"tcpsvd: bad port '{port_text}'\n".encode())
        return 1
    yield Listen(port, tuple(argv))
    return 0  # not reached: a driver never resumes a program that listens


def _shell(args: list[str], context: Context) -> Program:
    if args[:1] == ["-c"]:
        if len(args) < 2:
            yield Write("stderr", b"sh: -c requires an argument\n")
            return 2
        return (yield from run_script(args[1], context))
    # No -c: read commands from standard input, one line at a time.
    status = 0
    pending = b""
    while True:
        chunk = yield ReadStdin()
        if chunk is not None:
            pending += chunk
        while b"\n" in pending or (chunk is None and pending):
            line, _, pending = pending.partition(b"\n")
            status, exited = yield from _script(line.decode(errors="replace"), context)
            if exited:
                return status
        if chunk is None:
            return status


__all__ = [
    "BUILTINS",
    "DEFAULT_PATH",
    "FDS",
    "Command",
    "Context",
    "Effect",
    "Listen",
    "Program",
    "ReadStdin",
    "ScriptError",
    "Sleep",
    "Write",
    "command_name",
    "is_builtin",
    "parse",
    "parse_sleep",
    "redirected",
    "run",
    "run_script",
]

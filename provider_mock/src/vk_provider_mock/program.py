"""A container's main process compiled into a timeline: which line it writes when, and when and how it exits.

``sh -c 'echo hi; sleep 2; exit 3'`` becomes: "hi" on stdout at 0s, exit 3 at 2s. The shell interpreter is
driven with a virtual clock (see ``shell.py``), so compiling takes no time and the result only depends on the
container spec and its environment; the mock stores an instance's start time, never its output.

Containers the mock cannot interpret run until they are stopped: no command at all (the image's entrypoint) or a
program the mock does not know (``nginx -g 'daemon off;'``). For those the mock writes one line of its own when
the container starts, so ``kubectl logs`` shows something true: what would run and that the mock only pretends.
A script that reads standard input (``cat``) blocks forever if the container has ``stdin: true`` and otherwise
reads an empty stdin, as in Kubernetes. A script that ends in a server (``tcpsvd 0.0.0.0 8080 cat``) runs until
stopped too, and its timeline says from when which port listens and what answers each connection (port-forward
runs that program live).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vk_provider_mock import shell

MAX_EFFECTS = 100_000  # scripts have no loops; this only bounds pathological input


@dataclass(frozen=True)
class Line:
    """A line of output at ``offset`` seconds after the start of the process."""

    offset: float
    stream: shell.Stream
    content: bytes


@dataclass(frozen=True)
class Listener:
    """From ``offset`` seconds after the start of the process, TCP ``port`` listens; each connection runs ``argv``."""

    offset: float
    port: int
    argv: tuple[str, ...]


@dataclass(frozen=True)
class Timeline:
    lines: tuple[Line, ...]
    #: Seconds after start at which the process exits; None: it runs until stopped.
    end: float | None
    exit_code: int
    #: The server the process ends up running, if any (then it runs until stopped).
    listener: Listener | None = None


def compile_process(argv: list[str], context: shell.Context, *, image: str, stdin_open: bool) -> Timeline:
    """The timeline of a container's main process (argv is command + args)."""
    if not argv or not shell.is_builtin(argv[0]):
        shown = " ".join(argv) if argv else "the image's entrypoint"
        banner = f"[vk-provider-mock] started {image}: {shown} (simulated: runs until stopped)"
        return Timeline(lines=(Line(0.0, "stdout", banner.encode()),), end=None, exit_code=0)
    program = shell.run(argv, context)
    lines: list[Line] = []
    pending: dict[shell.Stream, bytes] = {"stdout": b"", "stderr": b""}
    offset = 0.0
    answer: bytes | None = None
    end: float | None = None
    code = 0
    listener: Listener | None = None
    for _ in range(MAX_EFFECTS):
        try:
            effect = program.send(answer)
        except StopIteration as stop:
            end, code = offset, int(stop.value)
            break
        answer = None
        if isinstance(effect, shell.Write):
            pending[effect.stream] += effect.data
            *complete, pending[effect.stream] = pending[effect.stream].split(b"\n")
            lines.extend(Line(offset, effect.stream, content) for content in complete)
        elif isinstance(effect, shell.Sleep):
            if math.isinf(effect.seconds):
                break
            offset += effect.seconds
        elif isinstance(effect, shell.Listen):
            listener = Listener(offset, effect.port, effect.argv)
            break  # serves connections until stopped
        elif stdin_open:
            break  # waits for input that only attach can give: runs until stopped
    lines.extend(Line(offset, stream, rest) for stream, rest in pending.items() if rest)
    program.close()
    return Timeline(lines=tuple(lines), end=end, exit_code=code, listener=listener)


__all__ = ["Line", "Listener", "Timeline", "compile_process"]

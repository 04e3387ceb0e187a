"""Logs, exec, attach and port-forward of the mock, over the narrow view of the provider they need (:class:`Pods`).

- **Logs** are derived from the container instance's timeline and start time (see ``runtime.py``), so every line
  has the time it was "written"; every option is honoured natively: follow, tail, since, limit, previous,
  timestamps. Following waits for the next line's time or for a change of the pod, whichever comes first.
  A synthetic flood (``log-flood``, see ``flood.py``) is generated batch by batch as the reader takes it, with the
  same options, so its size never costs memory.
- **Exec** runs the mock shell live (``shell.py``) against the container's environment and files: ``echo``,
  ``env``, ``cat PATH``, ``cat`` (stdin to stdout), ``sleep``, ``exit N``, ``sh -c``, ``>&2`` and ``2>&1``;
  unknown commands print ``sh: X: not found`` to stderr and exit 127. With a tty everything goes to stdout; resizes
  are accepted. ``tcpsvd IP PORT PROG`` listens on PORT for as long as the session lasts.
- **Attach** follows the main process's output from now on; with ``stdin: true`` on the container, every line the
  user types is echoed by the process (and so also appears in its log). When the process exits, the session ends
  with its exit status.
- **Port-forward** connects only to a port something listens on (``MockPod.server``): a ``tcpsvd`` of the
  container's script or of an exec session, whose program (``cat``: an echo) runs live with the connection as its
  standard input and output (its stderr goes to the container's log), or a port declared in a running container's
  ``ports``, which echoes. Any other port is refused with UNAVAILABLE, as a refused TCP connection is.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

from virtualkubelet.provider.v1 import container_pb2, logs_pb2, pod_pb2, streaming_pb2
from vk_provider_mock import shell
from vk_provider_mock.runtime import ContainerRun, Instance, LogLine, MockPod, Server, timestamp
from vk_provider_sdk import errors, exit_status, logs
from vk_provider_sdk.sessions import AttachSession, ContainerSession, ExecSession, PortForwardConnection

log = logging.getLogger(__name__)

_STREAMS = {"stdout": logs_pb2.LOG_STREAM_STDOUT, "stderr": logs_pb2.LOG_STREAM_STDERR}


class Pods(Protocol):
    """What the streams need from the provider."""

    def now(self) -> float: ...

    def pod(self, ref: pod_pb2.PodRef) -> MockPod:
        """The pod, or NotFound."""
        ...

    async def changed(self, within: float | None) -> None:
        """Return after the next change of any pod, or after ``within`` seconds (None: no limit)."""
        ...

    def write_output(self, pod: MockPod, container: str, content: bytes, stream: shell.Stream = "stdout") -> None:
        """A main process wrote a line outside its timeline (attach echo, a server's errors)."""
        ...


class Stdio(Protocol):
    """The standard streams of a process run live."""

    async def write(self, stream: shell.Stream, data: bytes) -> None: ...

    async def read(self) -> bytes | None:
        """The next chunk of standard input, or None at its end."""
        ...


def _container(pods: Pods, ref: pod_pb2.PodRef, name: str) -> tuple[MockPod, ContainerRun, container_pb2.Container]:
    pod = pods.pod(ref)
    container = pod.container(name)
    if container is None:
        raise errors.NotFound(f"container {name!r} is not valid for pod {ref.namespace}/{ref.name}")
    return pod, pod.runs[name], container


def _running(pods: Pods, ref: pod_pb2.PodRef, name: str) -> tuple[MockPod, ContainerRun, container_pb2.Container]:
    pod, run, container = _container(pods, ref, name)
    if run.current is None or not run.current.running:
        raise errors.NotReady(
            f"container {name!r} in pod {ref.namespace}/{ref.name} is not running", reason="ContainerNotRunning"
        )
    return pod, run, container


def _entry(line: LogLine) -> logs_pb2.LogEntry:
    return logs_pb2.LogEntry(time=timestamp(line.time), stream=_STREAMS[line.stream], content=line.content)


# -- logs ---------------------------------------------------------------------------------------------------------


async def container_logs(
    pods: Pods, request: logs_pb2.GetContainerLogsRequest
) -> AsyncIterator[logs_pb2.GetContainerLogsResponse]:
    pod, run, _ = _container(pods, request.pod, request.container)
    instance = run.last_terminated() if request.previous else run.current
    where = f"container {request.container!r} in pod {request.pod.namespace}/{request.pod.name}"
    if instance is None:
        if request.previous:
            raise errors.NotReady(f"previous terminated {where} not found", reason="NoPreviousContainer")
        raise errors.NotReady(f"{where} is waiting to start", reason="ContainerNotStarted")
    budget = logs.ByteBudget(request.limit_bytes if request.HasField("limit_bytes") else None)
    now = pods.now()
    lines = pod.log_lines(run, instance, now)
    entries = [_entry(line) for line in lines]
    if instance.flood is None:
        flood, history = None, logs.select(entries, request, budget=budget)
    else:
        # The flood comes first; the few other lines (since and tail applied) after it, within what budget is left.
        others = logs.select(entries, request, budget=logs.ByteBudget(None))
        flood, history = _flood_batches(instance, request, budget, after_lines=len(others)), others
    sent = False
    pending: list[logs_pb2.LogEntry] | None = None
    for batch in flood if flood is not None else logs.batches(history):
        # One batch of lookahead: the last batch of the history carries history_complete.
        if pending is not None:
            yield logs_pb2.GetContainerLogsResponse(entries=pending)
            sent = True
        pending = batch
    if flood is not None:
        pending = [*(pending or []), *budget.take(history)] or None
    if pending is not None:
        yield logs_pb2.GetContainerLogsResponse(entries=pending, history_complete=request.follow)
        sent = True
    if not request.follow:
        return
    if not sent:
        yield logs_pb2.GetContainerLogsResponse(history_complete=True)
    if budget.exhausted:
        return
    async for new in _follow(pods, pod, run, instance, seen=len(lines), since=now):
        entries = budget.take(_entry(line) for line in new)
        for batch in logs.batches(entries):
            yield logs_pb2.GetContainerLogsResponse(entries=batch)
        if budget.exhausted:
            return


def _flood_batches(
    instance: Instance, request: logs_pb2.GetContainerLogsRequest, budget: logs.ByteBudget, *, after_lines: int
) -> Iterator[list[logs_pb2.LogEntry]]:
    """The flood's part of the history, a batch at a time, with since, tail and the byte limit applied (the
    ``after_lines`` other lines of the instance come after it and count for the tail)."""
    flood = instance.flood
    assert flood is not None
    stamp = timestamp(instance.started_at)
    if request.HasField("since_time") and stamp.ToNanoseconds() < request.since_time.ToNanoseconds():
        return
    start = 0
    if request.HasField("tail_lines"):
        start = max(flood.lines - max(request.tail_lines - after_lines, 0), 0)
    stdout = logs_pb2.LOG_STREAM_STDOUT
    for contents in flood.chunks(start, max_bytes=logs.BATCH_BYTES):
        batch = budget.take(logs_pb2.LogEntry(time=stamp, stream=stdout, content=content) for content in contents)
        if batch:
            yield batch
        if budget.exhausted:
            return


async def _follow(
    pods: Pods, pod: MockPod, run: ContainerRun, instance: Instance, *, seen: int, since: float
) -> AsyncIterator[list[LogLine]]:
    """New lines of ``instance`` as they are written, until it has ended and everything was sent."""
    checked = since
    while True:
        next_at = pod.next_line_at(run, instance, checked)
        if next_at is None and not instance.running:
            lines = pod.log_lines(run, instance, pods.now())
            if len(lines) > seen:
                yield lines[seen:]
            return
        timeout = None if next_at is None else max(next_at - pods.now(), 0.0)
        await pods.changed(timeout)
        checked = pods.now()
        lines = pod.log_lines(run, instance, checked)
        if len(lines) > seen:
            yield lines[seen:]
            seen = len(lines)


# -- exec ---------------------------------------------------------------------------------------------------------


async def run_exec(pods: Pods, session: ExecSession) -> streaming_pb2.ExitStatus:
    pod, _, container = _running(pods, session.pod, session.container)
    program = shell.run(session.command, pod.context(container))
    await session.started()
    resizes = asyncio.create_task(_accept_resizes(session))
    try:
        code = await drive(program, _SessionStdio(session), pods=pods, pod=pod, container=container.name)
    finally:
        resizes.cancel()
    return exit_status(code)


class _SessionStdio:
    """An exec session as a process's standard streams."""

    def __init__(self, session: ContainerSession[streaming_pb2.ExecResponse]) -> None:
        self._session = session

    async def write(self, stream: shell.Stream, data: bytes) -> None:
        if stream == "stdout":
            await self._session.write_stdout(data)
        else:
            await self._session.write_stderr(data)

    async def read(self) -> bytes | None:
        return await self._session.read_stdin()


async def drive(program: shell.Program, stdio: Stdio, *, pods: Pods, pod: MockPod, container: str) -> int:
    """Run a shell program live in ``container`` of ``pod``: real sleeps, ``stdio`` for its standard streams; a
    program that listens on a port serves it until it is cancelled."""
    answer: bytes | None = None
    try:
        while True:
            try:
                effect = program.send(answer)
            except StopIteration as stop:
                return int(stop.value)
            answer = None
            if isinstance(effect, shell.Write):
                await stdio.write(effect.stream, effect.data)
            elif isinstance(effect, shell.Sleep):
                await (asyncio.Event().wait() if math.isinf(effect.seconds) else asyncio.sleep(effect.seconds))
            elif isinstance(effect, shell.Listen):
                return await _serve(pods, pod, container, effect, stdio)
            else:
                answer = await stdio.read()
    finally:
        program.close()


async def _serve(pods: Pods, pod: MockPod, container: str, listen: shell.Listen, stdio: Stdio) -> int:
    """Listen on the port until cancelled (port-forward then connects to it), or fail as bind does if it is taken."""
    server = pod.listen(container, listen.port, listen.argv, pods.now())
    if server is None:
        await stdio.write("stderr", b"tcpsvd: bind: Address already in use\n")
        return 1
    try:
        forever: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        return await forever
    finally:
        pod.unlisten(listen.port, server)


async def _accept_resizes(session: ContainerSession[streaming_pb2.ExecResponse]) -> None:
    async for size in session.resizes():
        log.debug("exec in %s: terminal resized to %dx%d", session.container, size.width, size.height)


# -- attach -------------------------------------------------------------------------------------------------------


async def run_attach(pods: Pods, session: AttachSession) -> streaming_pb2.ExitStatus | None:
    pod, run, container = _running(pods, session.pod, session.container)
    if session.wants_stdin and not container.stdin:
        raise errors.NotReady(
            f"container {container.name!r} does not accept standard input (stdin is not set in its spec)",
            reason="StdinNotEnabled",
        )
    instance = run.current
    assert instance is not None
    now = pods.now()
    seen = len(pod.log_lines(run, instance, now))
    await session.started()
    echo = asyncio.create_task(_echo_stdin(pods, pod, container.name, session))
    try:
        async for lines in _follow(pods, pod, run, instance, seen=seen, since=now):
            for line in lines:
                data = line.content + b"\n"
                await (session.write_stdout(data) if line.stream == "stdout" else session.write_stderr(data))
    finally:
        echo.cancel()
    return exit_status(instance.final_code)


async def _echo_stdin(pods: Pods, pod: MockPod, name: str, session: AttachSession) -> None:
    """The main process echoes each line of stdin (a line at a time, as a terminal in canonical mode delivers)."""
    pending = b""
    async for chunk in session.stdin():
        pending += chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, pending = pending.split(b"\n")
        for line in lines:
            pods.write_output(pod, name, line)
    if pending:
        pods.write_output(pod, name, pending)


# -- port-forward -------------------------------------------------------------------------------------------------


async def run_port_forward(pods: Pods, connection: PortForwardConnection) -> None:
    pod = pods.pod(connection.pod)
    where = f"pod {pod.spec.metadata.namespace}/{pod.spec.metadata.name}"
    if not any(run.running for run in pod.runs.values()):
        raise errors.NotReady(f"{where} is not running", reason="PodNotRunning")
    server = pod.server(connection.port, pods.now())
    if server is None:
        raise errors.Unavailable(
            f"connection refused: nothing listens on port {connection.port} in {where}", reason="ConnectionRefused"
        )
    container = pod.container(server.container)
    assert container is not None
    program = shell.run(list(server.argv), pod.context(container))
    await connection.started()
    await drive(program, _ConnectionStdio(pods, pod, server, connection), pods=pods, pod=pod, container=container.name)
    await connection.close_write()


class _ConnectionStdio:
    """A TCP connection as the standard input and output of the program serving it; its stderr goes to the log of
    the container, as a server's stderr does."""

    def __init__(self, pods: Pods, pod: MockPod, server: Server, connection: PortForwardConnection) -> None:
        self._pods, self._pod, self._server, self._connection = pods, pod, server, connection

    async def write(self, stream: shell.Stream, data: bytes) -> None:
        if stream == "stdout":
            await self._connection.write(data)
            return
        for line in data.splitlines():
            self._pods.write_output(self._pod, self._server.container, line, stream)

    async def read(self) -> bytes | None:
        return await self._connection.read()


__all__ = ["Pods", "Stdio", "container_logs", "drive", "run_attach", "run_exec", "run_port_forward"]

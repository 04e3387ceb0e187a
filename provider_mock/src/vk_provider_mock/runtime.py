"""One mock pod: its containers' lives as a state machine over timestamps, and its status computed like the kubelet.

Design decisions:

- **State is a few timestamps, transitions are pure functions of them.** A container instance is its start time,
  its planned exit (from the compiled timeline and the annotations), and how it actually ended. ``advance(now)``
  applies every transition due up to ``now`` *at the time it was due* (start, exit, restart after back-off,
  graceful stop, kill), in order. The provider calls it from one timer per pod, set to :meth:`MockPod.next_wake`;
  after a provider restart it calls it once with the current time and the pod catches up exactly as if it had been
  running all along (restart counts included). No task or polling loop per pod or container.
- **Status is computed, never stored.** :meth:`MockPod.status` derives phase, container states, readiness and
  waiting reasons from the timestamps and ``now``; a change of readiness or of a waiting reason only needs a wake-up
  so that the new status is published.
- **Kubelet semantics where they are observable:** init containers one after another (sidecar init containers,
  ``restartPolicy: Always``, start in order and keep running), regular containers together after them, restarts
  per the pod's restart policy with exponential back-off (``CrashLoopBackOff`` in between, ``restart_count`` and
  ``last_termination_state``), phase from the container states as the kubelet's ``getPhase`` computes it.
- **Readiness probes are treated as passing** once the container runs, after the probe's
  ``initial_delay_seconds`` and the ``readiness-delay`` annotation: the mock has no process to probe, and the
  protocol allows a documented stand-in. Liveness and startup probes never fail.
- **Deletion** stops new starts, then each running process either exits by itself ``stop-delay`` after SIGTERM
  (code 0, reason Completed) or is killed when the grace period ends (code 137, signal 9, reason Error); grace 0
  kills at once. The pod is gone when nothing runs any more.
- **Ports listen only where something serves them** (:meth:`MockPod.server`): a ``tcpsvd`` run by a running
  container's main process (from its timeline) or by an exec session, else a port declared in a running
  container's ``ports``, which answers as an echo server (a stand-in for the image's own server, which the mock
  does not run, so that ``kubectl port-forward`` to ordinary pods works). Every other port refuses connections.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from google.protobuf import json_format, timestamp_pb2

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, status_pb2
from vk_provider_mock import environment, shell, usage
from vk_provider_mock.behaviour import Behaviour
from vk_provider_mock.flood import Flood
from vk_provider_mock.program import Timeline, compile_process

Kind = Literal["init", "sidecar", "main"]
MAX_STEPS = 100_000
KILLED_CODE, KILL_SIGNAL = 137, 9
FALLBACK_LINES, FALLBACK_BYTES = 80, 2048
PULL_ERROR = "simulated by the annotation mock.virtual-kubelet.io/image-pull-error"
#: What answers on a declared port: an echo server.
ECHO: tuple[str, ...] = ("cat",)
_TCP = (container_pb2.PORT_PROTOCOL_UNSPECIFIED, container_pb2.PORT_PROTOCOL_TCP)


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(round(seconds * 1e9))
    return stamp


@dataclass
class LogLine:
    time: float
    stream: shell.Stream
    content: bytes


@dataclass
class Instance:
    """One run of a container, from its start to its end."""

    image: str
    started_at: float
    #: When a readiness check first passes.
    ready_at: float
    #: When the process exits by itself (None: it runs until stopped), and with which code.
    exit_at: float | None
    exit_code: int
    container_id: str
    finished_at: float | None = None
    final_code: int | None = None
    signal: int = 0
    reason: str = ""
    message: str = ""
    #: Output the process wrote outside its timeline (attach input echoed by the main process).
    extra: list[LogLine] = field(default_factory=list)
    #: The synthetic log the instance wrote at its start instead of running its command (``log-flood``); it is
    #: generated when read (``streams.py``) and is not part of :meth:`MockPod.log_lines`.
    flood: Flood | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def terminated(self) -> status_pb2.ContainerStateTerminated:
        state = status_pb2.ContainerStateTerminated(
            exit_code=self.final_code,
            signal=self.signal,
            reason=self.reason,
            message=self.message,
            started_at=timestamp(self.started_at),
            container_id=self.container_id,
        )
        if self.finished_at is not None:
            state.finished_at.CopyFrom(timestamp(self.finished_at))
        return state


@dataclass
class ContainerRun:
    """The life of one container across restarts."""

    name: str
    kind: Kind
    restart_count: int = 0
    current: Instance | None = None
    previous: Instance | None = None
    #: When the container (re)starts next; None if nothing is scheduled.
    next_start_at: float | None = None
    #: CPU time (core-nanoseconds) of the instances that already ended, for cumulative pod and node counters.
    cpu_ns_finished: int = 0

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.running

    @property
    def backing_off(self) -> bool:
        return self.current is not None and not self.current.running and self.next_start_at is not None

    @property
    def done(self) -> bool:
        """Exited and will not be restarted."""
        return self.current is not None and not self.current.running and self.next_start_at is None

    def last_terminated(self) -> Instance | None:
        """The instance of ``last_termination_state`` and of ``logs --previous``."""
        return self.current if self.backing_off else self.previous


@dataclass(frozen=True, eq=False)
class Server:
    """What answers TCP connections to a port: ``argv`` run per connection in ``container`` (the connection being
    its standard input and output)."""

    container: str
    argv: tuple[str, ...]
    #: For a program started by exec: the container instance it runs in (it ends when that instance does).
    container_id: str = ""


@dataclass
class Deletion:
    requested_at: float
    #: When running processes are killed (the end of the grace period).
    kill_at: float
    #: When running processes exit by themselves after SIGTERM (stop-delay), if before kill_at.
    stop_at: float | None


class MockPod:
    """A pod the mock runs."""

    def __init__(
        self,
        spec: pod_pb2.Pod,
        *,
        created_at: float,
        pod_ip: str,
        behaviour: Behaviour,
        runs: dict[str, ContainerRun] | None = None,
        deletion: Deletion | None = None,
        init_failed: bool = False,
    ) -> None:
        self.spec = spec
        self.created_at = created_at
        self.pod_ip = pod_ip
        self.behaviour = behaviour
        self.deletion = deletion
        self.init_failed = init_failed
        self.runs: dict[str, ContainerRun] = runs or {}
        for container in spec.init_containers:
            sidecar = container.restart_policy == container_pb2.CONTAINER_RESTART_POLICY_ALWAYS
            self.runs.setdefault(container.name, ContainerRun(container.name, "sidecar" if sidecar else "init"))
        for container in spec.containers:
            self.runs.setdefault(container.name, ContainerRun(container.name, "main"))
        self._timelines: dict[tuple[str, str], Timeline] = {}
        #: Ports that programs started by exec listen on. Not persisted: exec sessions end with the provider.
        self._exec_servers: dict[int, Server] = {}

    # -- identity and spec --------------------------------------------------------------------------------------

    @property
    def uid(self) -> str:
        return self.spec.metadata.uid

    @property
    def ref(self) -> pod_pb2.PodRef:
        meta = self.spec.metadata
        return pod_pb2.PodRef(uid=meta.uid, namespace=meta.namespace, name=meta.name)

    @property
    def sandbox_at(self) -> float:
        """When the pod's "sandbox" is up: containers may start and the pod has its IP."""
        return self.created_at + self.behaviour.startup_delay

    @property
    def restart_policy(self) -> pod_pb2.RestartPolicy.ValueType:
        policy = self.spec.restart_policy
        return pod_pb2.RESTART_POLICY_ALWAYS if policy == pod_pb2.RESTART_POLICY_UNSPECIFIED else policy

    def container(self, name: str) -> container_pb2.Container | None:
        for container in (*self.spec.init_containers, *self.spec.containers):
            if container.name == name:
                return container
        return None

    def _spec(self, run: ContainerRun) -> container_pb2.Container:
        container = self.container(run.name)
        assert container is not None
        return container

    def _init_runs(self) -> Iterator[ContainerRun]:
        return (self.runs[c.name] for c in self.spec.init_containers)

    def _main_runs(self) -> Iterator[ContainerRun]:
        return (self.runs[c.name] for c in self.spec.containers)

    def context(self, container: container_pb2.Container) -> shell.Context:
        """What the container's processes see: environment, hostname, mounted files."""
        return shell.Context(
            env=environment.env(self.spec, container, self.pod_ip),
            hostname=self.spec.hostname or self.spec.metadata.name,
            read_file=lambda path: self.read_file(container, path),
        )

    def read_file(self, container: container_pb2.Container, path: str) -> bytes | None:
        """A file of a mounted ``files`` volume (configMap, secret, downwardAPI, projected), or None."""
        volumes = {volume.name: volume for volume in self.spec.volumes}
        for mount in container.volume_mounts:
            volume = volumes.get(mount.name)
            if volume is None or volume.WhichOneof("source") != "files":
                continue
            root = mount.mount_path.rstrip("/")
            if mount.sub_path:
                relative = mount.sub_path if path == root else None
                if path.startswith(root + "/"):
                    relative = mount.sub_path.rstrip("/") + "/" + path[len(root) + 1 :]
            else:
                relative = path[len(root) + 1 :] if path.startswith(root + "/") else None
            for file in volume.files.files:
                if relative is not None and file.path == relative:
                    return file.content
        return None

    def timeline(self, run: ContainerRun, image: str) -> Timeline:
        key = (run.name, image)
        if key not in self._timelines:
            container = self._spec(run)
            self._timelines[key] = compile_process(
                environment.argv(container, self.pod_ip),
                self.context(container),
                image=image,
                stdin_open=container.stdin,
            )
        return self._timelines[key]

    # -- the state machine ----------------------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Apply every transition due up to ``now``, each at its own time."""
        self._schedule(now)
        for _ in range(MAX_STEPS):
            due = self._next_transition()
            if due is None or due > now:
                return
            self._transition(due)

    def next_wake(self, now: float) -> float | None:
        """When something changes next (a transition, or a status change such as readiness); None if never."""
        times = [t for t in (self._next_transition(), self.sandbox_at) if t is not None]
        for run in self.runs.values():
            if run.running and run.current is not None:
                times.append(run.current.ready_at)
            elif run.current is None and self.behaviour.image_fails(self._spec(run).image):
                times.append(self.sandbox_at + self.behaviour.restart_backoff)
        future = [t for t in times if t > now]
        return min(future, default=None)

    def delete(self, now: float, grace: float) -> None:
        """Start (or shorten) the deletion: no more starts; stop or kill what runs."""
        self.advance(now)
        if self.deletion is None:
            stop_delay = self.behaviour.stop_delay
            self.deletion = Deletion(
                requested_at=now, kill_at=now + grace, stop_at=None if stop_delay is None else now + stop_delay
            )
            for run in self.runs.values():
                run.next_start_at = None
        else:
            self.deletion.kill_at = min(self.deletion.kill_at, now + grace)
        self.advance(now)

    @property
    def gone(self) -> bool:
        """Deleted and nothing runs any more."""
        return self.deletion is not None and not any(run.running for run in self.runs.values())

    def update(self, spec: pod_pb2.Pod, behaviour: Behaviour, now: float) -> None:
        """Apply an UpdatePod: metadata, resources and files are taken; a changed image restarts its container."""
        self.advance(now)
        old_images = {c.name: c.image for c in (*self.spec.init_containers, *self.spec.containers)}
        self.spec = spec
        self.behaviour = behaviour
        for container in (*spec.init_containers, *spec.containers):
            run = self.runs.get(container.name)
            if run is None or old_images.get(container.name) == container.image:
                continue
            if run.running:
                self._finish(run, now, code=KILLED_CODE, reason="Error", signal=KILL_SIGNAL, restart=False)
                run.next_start_at = now
        self.advance(now)

    def add_output(self, name: str, stream: shell.Stream, content: bytes, now: float) -> bool:
        """Record output of a running main process (attach echo); False if it does not run."""
        run = self.runs.get(name)
        if run is None or run.current is None or not run.current.running:
            return False
        run.current.extra.append(LogLine(now, stream, content))
        return True

    def _next_transition(self) -> float | None:
        times: list[float] = []
        for run in self.runs.values():
            if run.next_start_at is not None:
                times.append(run.next_start_at)
            end = self._planned_end(run)
            if end is not None:
                times.append(end[0])
        return min(times, default=None)

    def _planned_end(self, run: ContainerRun) -> tuple[float, int, int, str, int] | None:
        """(time, precedence, exit code, reason, signal) of how a running instance will end, or None."""
        current = run.current
        if current is None or not current.running:
            return None
        ends = []
        if current.exit_at is not None:
            reason = "Completed" if current.exit_code == 0 else "Error"
            ends.append((current.exit_at, 0, current.exit_code, reason, 0))
        if self.deletion is not None:
            if self.deletion.stop_at is not None:
                ends.append((self.deletion.stop_at, 1, 0, "Completed", 0))
            ends.append((self.deletion.kill_at, 2, KILLED_CODE, "Error", KILL_SIGNAL))
        return min(ends, default=None)

    def _transition(self, t: float) -> None:
        for run in self.runs.values():
            if run.next_start_at is not None and run.next_start_at <= t:
                self._start(run, t)
        for run in self.runs.values():
            end = self._planned_end(run)
            if end is not None and end[0] <= t:
                at, _, code, reason, signal = end
                self._finish(run, at, code=code, reason=reason, signal=signal, restart=self.deletion is None)
        self._schedule(t)

    def _start(self, run: ContainerRun, t: float) -> None:
        container = self._spec(run)
        if run.current is not None:
            run.previous = run.current
            run.restart_count += 1
        timeline = self.timeline(run, container.image)
        end, code = timeline.end, timeline.exit_code
        if self.behaviour.crash_loop is not None:
            limit, limit_code = self.behaviour.crash_loop, 1
        elif self.behaviour.exit_after is not None:
            limit, limit_code = self.behaviour.exit_after, self.behaviour.exit_code
        else:
            limit, limit_code = None, 0
        if limit is not None and (end is None or limit < end):
            end, code = limit, limit_code
        flood = self.behaviour.log_flood if run.kind == "main" else None
        if flood is not None:
            end, code = 0.0, self.behaviour.exit_code
        probe_delay = container.readiness_probe.initial_delay_seconds if container.HasField("readiness_probe") else 0
        run.current = Instance(
            image=container.image,
            started_at=t,
            ready_at=t + self.behaviour.readiness_delay + probe_delay,
            exit_at=None if end is None else t + end,
            exit_code=code,
            container_id=f"mock://{self.uid}/{run.name}/{run.restart_count}",
            flood=flood,
        )
        run.next_start_at = None

    def _finish(self, run: ContainerRun, at: float, *, code: int, reason: str, signal: int, restart: bool) -> None:
        current = run.current
        assert current is not None
        current.finished_at, current.final_code, current.reason, current.signal = at, code, reason, signal
        container = self._spec(run)
        run.cpu_ns_finished += usage.cpu_core_nanoseconds(container, at - current.started_at)
        fallback = container_pb2.TERMINATION_MESSAGE_POLICY_FALLBACK_TO_LOGS_ON_ERROR
        if code != 0 and container.termination_message_policy == fallback:
            lines = [line.content for line in self.log_lines(run, current, at)][-FALLBACK_LINES:]
            if current.flood is not None:
                flood = current.flood
                lines = [flood.content(i) for i in range(max(flood.lines - FALLBACK_LINES, 0), flood.lines)] + lines
            current.message = b"\n".join(lines)[-FALLBACK_BYTES:].decode(errors="replace")
        if not restart:
            return
        policy = self.restart_policy
        if run.kind == "sidecar":
            again = True
        elif run.kind == "init":
            again = code != 0 and policy != pod_pb2.RESTART_POLICY_NEVER
            if code != 0 and not again:
                self.init_failed = True
        else:
            on_failure = policy == pod_pb2.RESTART_POLICY_ON_FAILURE
            again = policy == pod_pb2.RESTART_POLICY_ALWAYS or (on_failure and code != 0)
        if again:
            run.next_start_at = at + self.behaviour.backoff(run.restart_count)
        if self.init_failed or all(main.done for main in self._main_runs()):
            # The pod is finished: its sidecars are stopped and not restarted.
            for sidecar in self._init_runs():
                if sidecar.kind != "sidecar":
                    continue
                sidecar.next_start_at = None
                if sidecar.running:
                    self._finish(sidecar, at, code=0, reason="Completed", signal=0, restart=False)

    def _schedule(self, t: float) -> None:
        """Schedule the starts that became possible at ``t`` (init containers in order, then the rest)."""
        if self.deletion is not None or self.init_failed:
            return
        start_at = max(t, self.sandbox_at)

        def eligible(run: ContainerRun) -> bool:
            return (
                run.current is None
                and run.next_start_at is None
                and not self.behaviour.image_fails(self._spec(run).image)
            )

        for run in self._init_runs():
            if run.kind == "sidecar":
                if eligible(run):
                    run.next_start_at = start_at
                if run.current is None:
                    return
                continue
            if run.done and run.current is not None and run.current.final_code == 0:
                continue
            if eligible(run):
                run.next_start_at = start_at
            return
        for run in self._main_runs():
            if eligible(run):
                run.next_start_at = start_at

    def inits_done(self) -> bool:
        for run in self._init_runs():
            if run.kind == "sidecar":
                if run.current is None:
                    return False
            elif not (run.done and run.current is not None and run.current.final_code == 0):
                return False
        return True

    # -- views ----------------------------------------------------------------------------------------------------

    def status(self, now: float) -> status_pb2.PodStatus:
        status = status_pb2.PodStatus(phase=self._phase(), start_time=timestamp(self.created_at))
        if now >= self.sandbox_at and self.pod_ip:
            status.pod_ips.append(self.pod_ip)
        for container in self.spec.init_containers:
            status.init_container_statuses.append(self._container_status(self.runs[container.name], container, now))
        for container in self.spec.containers:
            status.container_statuses.append(self._container_status(self.runs[container.name], container, now))
        return status

    def record(self, now: float) -> status_pb2.PodRecord:
        return status_pb2.PodRecord(
            ref=self.ref, revision=self.spec.revision, deleting=self.deletion is not None, status=self.status(now)
        )

    def _phase(self) -> status_pb2.PodPhase.ValueType:
        """The kubelet's getPhase over the container states."""
        if self.init_failed:
            return status_pb2.POD_PHASE_FAILED
        if not self.inits_done():
            return status_pb2.POD_PHASE_PENDING
        waiting = running = stopped = succeeded = 0
        for run in self._main_runs():
            if run.running:
                running += 1
            elif run.done:
                stopped += 1
                succeeded += run.current is not None and run.current.final_code == 0
            elif run.backing_off:
                stopped += 1
            else:
                waiting += 1
        if waiting:
            return status_pb2.POD_PHASE_PENDING
        if running:
            return status_pb2.POD_PHASE_RUNNING
        if stopped:
            if self.restart_policy == pod_pb2.RESTART_POLICY_ALWAYS:
                return status_pb2.POD_PHASE_RUNNING
            if stopped == succeeded:
                return status_pb2.POD_PHASE_SUCCEEDED
            if self.restart_policy == pod_pb2.RESTART_POLICY_NEVER:
                return status_pb2.POD_PHASE_FAILED
            return status_pb2.POD_PHASE_RUNNING
        return status_pb2.POD_PHASE_PENDING

    def _container_status(
        self, run: ContainerRun, container: container_pb2.Container, now: float
    ) -> status_pb2.ContainerStatus:
        current = run.current
        status = status_pb2.ContainerStatus(
            name=run.name,
            image=current.image if current is not None else container.image,
            restart_count=run.restart_count,
        )
        last = run.last_terminated()
        if last is not None:
            status.last_termination_state.CopyFrom(last.terminated())
        if current is None:
            reason, message = self._waiting(run, container, now)
            status.state.waiting.reason, status.state.waiting.message = reason, message
            return status
        status.container_id = current.container_id
        if current.running:
            status.state.running.started_at.CopyFrom(timestamp(current.started_at))
            status.started = True
            status.ready = run.kind != "init" and now >= current.ready_at
        elif run.backing_off:
            assert run.next_start_at is not None
            assert current.finished_at is not None
            delay = run.next_start_at - current.finished_at
            status.state.waiting.reason = "CrashLoopBackOff"
            status.state.waiting.message = (
                f"back-off {delay:g}s restarting failed container={run.name} pod={self.spec.metadata.name}_"
                f"{self.spec.metadata.namespace}({self.uid})"
            )
        else:
            status.state.terminated.CopyFrom(current.terminated())
            status.ready = run.kind == "init" and current.final_code == 0
        return status

    def _waiting(self, run: ContainerRun, container: container_pb2.Container, now: float) -> tuple[str, str]:
        if self.deletion is not None or now < self.sandbox_at:
            return "ContainerCreating", ""
        ahead = self._init_runs() if run.kind != "main" else iter(())
        for other in ahead:
            if other is run:
                break
            if other.kind == "sidecar" and other.current is None:
                return "PodInitializing", ""
            if other.kind == "init" and not (other.done and other.current and other.current.final_code == 0):
                return "PodInitializing", ""
        if run.kind == "main" and not self.inits_done():
            return "PodInitializing", ""
        if self.behaviour.image_fails(container.image):
            if now < self.sandbox_at + self.behaviour.restart_backoff:
                return "ErrImagePull", f'failed to pull image "{container.image}": {PULL_ERROR}'
            return "ImagePullBackOff", f'Back-off pulling image "{container.image}"'
        return "ContainerCreating", ""

    def log_lines(self, run: ContainerRun, instance: Instance, now: float) -> list[LogLine]:
        """The instance's output written up to ``now`` (or up to its end), in time order."""
        limit = now if instance.finished_at is None else min(now, instance.finished_at)
        timeline = self.timeline(run, instance.image)
        lines = [
            LogLine(instance.started_at + line.offset, line.stream, line.content)
            for line in timeline.lines
            if instance.started_at + line.offset <= limit and instance.flood is None
        ]
        lines.extend(line for line in instance.extra if line.time <= limit)
        lines.sort(key=lambda line: line.time)
        return lines

    def next_line_at(self, run: ContainerRun, instance: Instance, after: float) -> float | None:
        """When the instance writes its next timeline line after ``after`` (None: no more lines)."""
        end = instance.finished_at
        if instance.flood is not None:
            return None
        times = [
            instance.started_at + line.offset
            for line in self.timeline(run, instance.image).lines
            if instance.started_at + line.offset > after and (end is None or instance.started_at + line.offset <= end)
        ]
        return min(times, default=None)

    def cpu_ns(self, now: float) -> int:
        """Cumulative CPU time of the whole pod (every instance of every container) up to ``now``."""
        total = 0
        for run in self.runs.values():
            total += run.cpu_ns_finished
            if run.current is not None and run.current.running:
                total += usage.cpu_core_nanoseconds(self._spec(run), now - run.current.started_at)
        return total

    # -- ports ----------------------------------------------------------------------------------------------------

    def server(self, port: int, now: float) -> Server | None:
        """What answers a TCP connection to ``port`` at ``now``; None: nothing listens (connection refused).

        A program that listens comes first; otherwise a port declared in a running container's ``ports`` answers as
        an echo server."""
        listening = self._listening(port, now)
        if listening is not None:
            return listening
        for container in (*self.spec.init_containers, *self.spec.containers):
            if not self.runs[container.name].running:
                continue
            for declared in container.ports:
                if declared.container_port == port and declared.protocol in _TCP:
                    return Server(container.name, ECHO)
        return None

    def listen(self, container: str, port: int, argv: tuple[str, ...], now: float) -> Server | None:
        """A program started by exec in ``container`` listens on ``port`` from now on, until :meth:`unlisten`;
        None if a program already listens there (address in use)."""
        if self._listening(port, now) is not None:
            return None
        current = self.runs[container].current
        instance = current.container_id if current is not None else ""
        server = self._exec_servers[port] = Server(container, argv, instance)
        return server

    def unlisten(self, port: int, server: Server) -> None:
        """The program that got ``server`` from :meth:`listen` stopped."""
        if self._exec_servers.get(port) is server:
            del self._exec_servers[port]

    def _listening(self, port: int, now: float) -> Server | None:
        """The program listening on ``port``: a running container's ``tcpsvd``, or one started by exec."""
        for container in (*self.spec.init_containers, *self.spec.containers):
            run = self.runs[container.name]
            current = run.current
            if current is None or not current.running:
                continue
            listener = self.timeline(run, current.image).listener
            if listener is not None and listener.port == port and current.started_at + listener.offset <= now:
                return Server(container.name, listener.argv)
        server = self._exec_servers.get(port)
        current = None if server is None else self.runs[server.container].current
        if (
            server is not None
            and current is not None
            and current.running
            and current.container_id == server.container_id
        ):
            return server
        return None

    # -- persistence ----------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "pod": json_format.MessageToDict(self.spec, preserving_proto_field_name=True),
            "created_at": self.created_at,
            "pod_ip": self.pod_ip,
            "init_failed": self.init_failed,
            "deletion": None if self.deletion is None else vars(self.deletion).copy(),
            "containers": {name: _run_to_json(run) for name, run in self.runs.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], behaviour_of: Callable[[pod_pb2.Pod], Behaviour]) -> MockPod:
        spec = json_format.ParseDict(data["pod"], pod_pb2.Pod())
        deletion = data.get("deletion")
        return cls(
            spec,
            created_at=float(data["created_at"]),
            pod_ip=str(data["pod_ip"]),
            behaviour=behaviour_of(spec),
            runs={name: _run_from_json(name, value) for name, value in data.get("containers", {}).items()},
            deletion=None if deletion is None else Deletion(**deletion),
            init_failed=bool(data.get("init_failed", False)),
        )


def _instance_to_json(instance: Instance | None) -> dict[str, Any] | None:
    if instance is None:
        return None
    data = vars(instance).copy()
    data["extra"] = [[line.time, line.stream, base64.b64encode(line.content).decode()] for line in instance.extra]
    flood = instance.flood
    data["flood"] = None if flood is None else [flood.total, flood.line_length]
    return data


def _instance_from_json(data: dict[str, Any] | None) -> Instance | None:
    if data is None:
        return None
    extra = [LogLine(float(t), cast(shell.Stream, stream), base64.b64decode(text)) for t, stream, text in data["extra"]]
    flood = data.get("flood")
    return Instance(**{**data, "extra": extra, "flood": None if flood is None else Flood(int(flood[0]), int(flood[1]))})


def _run_to_json(run: ContainerRun) -> dict[str, Any]:
    return {
        "kind": run.kind,
        "restart_count": run.restart_count,
        "next_start_at": run.next_start_at,
        "cpu_ns_finished": run.cpu_ns_finished,
        "current": _instance_to_json(run.current),
        "previous": _instance_to_json(run.previous),
    }


def _run_from_json(name: str, data: dict[str, Any]) -> ContainerRun:
    return ContainerRun(
        name=name,
        kind=data["kind"],
        restart_count=int(data["restart_count"]),
        next_start_at=data["next_start_at"],
        cpu_ns_finished=int(data.get("cpu_ns_finished", 0)),
        current=_instance_from_json(data["current"]),
        previous=_instance_from_json(data["previous"]),
    )


__all__ = ["ECHO", "ContainerRun", "Deletion", "Instance", "LogLine", "MockPod", "Server", "timestamp"]

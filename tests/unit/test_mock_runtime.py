"""One mock pod's life, driven with explicit times: phases, restarts, init containers, scripted annotations,
deletion, and resuming from the state file as if the provider had never stopped."""

from __future__ import annotations

from virtualkubelet.provider.v1 import container_pb2, pod_pb2, status_pb2, volume_pb2
from vk_provider_mock import behaviour
from vk_provider_mock.runtime import ECHO, MockPod

T0 = 1_000_000.0
ALWAYS, ON_FAILURE, NEVER = (
    pod_pb2.RESTART_POLICY_ALWAYS,
    pod_pb2.RESTART_POLICY_ON_FAILURE,
    pod_pb2.RESTART_POLICY_NEVER,
)
MOCK = "mock.virtual-kubelet.io/"


def container(name: str = "app", script: str | None = None, **fields: object) -> container_pb2.Container:
    command = ["sh", "-c", script] if script is not None else []
    return container_pb2.Container(name=name, image="busybox:1.36", command=command, **fields)  # type: ignore[arg-type]


def make_pod(
    *containers: container_pb2.Container,
    init: tuple[container_pb2.Container, ...] = (),
    policy: pod_pb2.RestartPolicy.ValueType = NEVER,
    annotations: dict[str, str] | None = None,
) -> MockPod:
    annotations = {MOCK + key: value for key, value in (annotations or {}).items()}
    spec = pod_pb2.Pod(
        metadata=pod_pb2.PodMetadata(uid="uid-1", namespace="ns", name="web", annotations=annotations),
        restart_policy=policy,
        init_containers=init,
        containers=containers or (container(),),
    )
    pod = MockPod(spec, created_at=T0, pod_ip="10.244.0.5", behaviour=behaviour.from_annotations(annotations))
    pod.advance(T0)
    return pod


def phase(pod: MockPod, at: float) -> str:
    pod.advance(at)
    return status_pb2.PodPhase.Name(pod.status(at).phase).removeprefix("POD_PHASE_")


def state(pod: MockPod, at: float, name: str = "app") -> str:
    """'running', 'terminated:3:Error', 'waiting:CrashLoopBackOff' for one container at a time."""
    pod.advance(at)
    status = pod.status(at)
    for item in (*status.init_container_statuses, *status.container_statuses):
        if item.name == name:
            kind = item.state.WhichOneof("state")
            if kind == "terminated":
                return f"terminated:{item.state.terminated.exit_code}:{item.state.terminated.reason}"
            if kind == "waiting":
                return f"waiting:{item.state.waiting.reason}"
            return str(kind)
    raise AssertionError(f"no container {name}")


def container_status(pod: MockPod, at: float, name: str = "app") -> status_pb2.ContainerStatus:
    pod.advance(at)
    return next(c for c in pod.status(at).container_statuses if c.name == name)


def test_echo_and_exit_3_fails_the_pod_under_restart_policy_never() -> None:
    pod = make_pod(container(script="echo hi; exit 3"))

    assert state(pod, T0) == "terminated:3:Error"
    assert phase(pod, T0) == "FAILED"
    run = pod.runs["app"]
    assert run.current is not None
    assert [line.content for line in pod.log_lines(run, run.current, T0 + 1)] == [b"hi"]


def test_a_script_that_ends_with_0_succeeds() -> None:
    pod = make_pod(container(script="echo done"))

    assert state(pod, T0) == "terminated:0:Completed"
    assert phase(pod, T0) == "SUCCEEDED"


def test_a_container_without_command_runs_until_stopped() -> None:
    pod = make_pod(container())

    assert state(pod, T0 + 3600) == "running"
    assert phase(pod, T0 + 3600) == "RUNNING"
    assert pod.next_wake(T0 + 3600) is None, "nothing will change: no timer needed"


def test_sleep_delays_the_exit() -> None:
    pod = make_pod(container(script="sleep 5; exit 1"))

    assert state(pod, T0 + 4.9) == "running"
    assert pod.next_wake(T0 + 4.9) == T0 + 5
    assert state(pod, T0 + 5) == "terminated:1:Error"


def test_crash_loop_restarts_with_doubling_back_off_under_restart_policy_always() -> None:
    pod = make_pod(policy=ALWAYS, annotations={"crash-loop": "1s", "restart-backoff": "1s"})
    # runs T0..+1, waits 1s, runs +2..+3, waits 2s, runs +5..+6, waits 4s, runs +10..+11

    assert state(pod, T0 + 1.5) == "waiting:CrashLoopBackOff"
    assert container_status(pod, T0 + 2.5).restart_count == 1
    assert state(pod, T0 + 4) == "waiting:CrashLoopBackOff"
    status = container_status(pod, T0 + 10.5)
    assert status.restart_count == 3
    assert status.state.HasField("running")
    assert status.last_termination_state.exit_code == 1
    assert phase(pod, T0 + 4) == "RUNNING", "a pod whose containers restart is Running"


def test_restart_policy_on_failure_restarts_failures_only() -> None:
    failing = make_pod(container(script="exit 2"), policy=ON_FAILURE, annotations={"restart-backoff": "1s"})
    succeeding = make_pod(container(script="exit 0"), policy=ON_FAILURE)

    assert container_status(failing, T0 + 1.5).restart_count == 1
    assert phase(failing, T0 + 1.5) == "RUNNING"
    assert phase(succeeding, T0 + 100) == "SUCCEEDED"


def test_restart_policy_always_restarts_even_after_success() -> None:
    pod = make_pod(container(script="echo once"), policy=ALWAYS, annotations={"restart-backoff": "1s"})

    assert container_status(pod, T0 + 0.5).state.waiting.reason == "CrashLoopBackOff"
    assert container_status(pod, T0 + 1.5).restart_count == 1, "restarted after 1s"
    assert container_status(pod, T0 + 3.5).restart_count == 2, "and again 2s later"


def test_exit_after_and_exit_code_end_every_container() -> None:
    pod = make_pod(
        container("a"), container("b", script="sleep 100"), annotations={"exit-after": "2s", "exit-code": "7"}
    )

    assert state(pod, T0 + 1, "a") == "running"
    assert state(pod, T0 + 2, "a") == "terminated:7:Error"
    assert state(pod, T0 + 2, "b") == "terminated:7:Error"
    assert phase(pod, T0 + 2) == "FAILED"


def test_startup_delay_keeps_containers_creating_and_the_pod_without_ip() -> None:
    pod = make_pod(annotations={"startup-delay": "2s"})

    assert state(pod, T0 + 1) == "waiting:ContainerCreating"
    assert phase(pod, T0 + 1) == "PENDING"
    assert list(pod.status(T0 + 1).pod_ips) == []
    assert pod.next_wake(T0 + 1) == T0 + 2
    assert state(pod, T0 + 2) == "running"
    assert list(pod.status(T0 + 2).pod_ips) == ["10.244.0.5"]


def test_readiness_delay_and_probe_initial_delay_hold_readiness_back() -> None:
    probe = container_pb2.Probe(
        tcp_socket=container_pb2.TCPSocketAction(port=80), initial_delay_seconds=3, period_seconds=10
    )
    pod = make_pod(container(readiness_probe=probe), annotations={"readiness-delay": "1s"})

    assert container_status(pod, T0 + 0.5).started
    assert not container_status(pod, T0 + 3.9).ready
    assert pod.next_wake(T0 + 3.9) == T0 + 4
    assert container_status(pod, T0 + 4).ready


def test_init_containers_run_one_after_another_before_the_containers() -> None:
    pod = make_pod(
        container(),
        init=(container("first", script="sleep 1"), container("second", script="sleep 1")),
    )

    assert [state(pod, T0 + 0.5, name) for name in ("first", "second", "app")] == [
        "running",
        "waiting:PodInitializing",
        "waiting:PodInitializing",
    ]
    assert phase(pod, T0 + 0.5) == "PENDING"
    assert [state(pod, T0 + 1.5, name) for name in ("first", "second", "app")] == [
        "terminated:0:Completed",
        "running",
        "waiting:PodInitializing",
    ]
    assert state(pod, T0 + 2, "app") == "running"
    assert phase(pod, T0 + 2) == "RUNNING"


def test_a_failed_init_container_fails_the_pod_under_never_and_nothing_else_starts() -> None:
    pod = make_pod(container(), init=(container("setup", script="exit 1"),))

    assert phase(pod, T0 + 10) == "FAILED"
    assert state(pod, T0 + 10, "app") == "waiting:PodInitializing"


def test_a_sidecar_runs_alongside_and_stops_when_the_containers_are_done() -> None:
    sidecar = container("proxy", restart_policy=container_pb2.CONTAINER_RESTART_POLICY_ALWAYS)
    pod = make_pod(container(script="sleep 2"), init=(sidecar,))

    assert state(pod, T0 + 1, "proxy") == "running"
    assert state(pod, T0 + 1) == "running"
    assert state(pod, T0 + 2, "proxy") == "terminated:0:Completed"
    assert phase(pod, T0 + 2) == "SUCCEEDED"


def test_an_image_pull_error_shows_err_image_pull_then_image_pull_back_off() -> None:
    pod = make_pod(annotations={"image-pull-error": "true", "restart-backoff": "5s"})

    assert state(pod, T0 + 1) == "waiting:ErrImagePull"
    assert state(pod, T0 + 6) == "waiting:ImagePullBackOff"
    assert phase(pod, T0 + 6) == "PENDING"


def test_deletion_kills_after_the_grace_period_with_137() -> None:
    pod = make_pod()
    pod.delete(T0 + 1, grace=10)

    assert pod.record(T0 + 1).deleting
    assert not pod.gone
    assert state(pod, T0 + 10.9) == "running"
    pod.advance(T0 + 11)
    assert pod.gone
    terminated = pod.status(T0 + 11).container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.signal, terminated.reason) == (137, 9, "Error")


def test_a_stop_delay_shorter_than_the_grace_period_exits_cleanly() -> None:
    pod = make_pod(annotations={"stop-delay": "2s"})
    pod.delete(T0, grace=30)

    pod.advance(T0 + 2)

    assert pod.gone
    assert pod.status(T0 + 2).container_statuses[0].state.terminated.exit_code == 0


def test_grace_zero_kills_at_once_and_a_later_shorter_grace_takes_effect() -> None:
    immediate = make_pod()
    immediate.delete(T0, grace=0)
    assert immediate.gone

    shortened = make_pod()
    shortened.delete(T0, grace=30)
    shortened.delete(T0 + 1, grace=60)
    assert not shortened.gone
    shortened.delete(T0 + 2, grace=0)
    assert shortened.gone


def test_deletion_stops_restarts() -> None:
    pod = make_pod(policy=ALWAYS, annotations={"crash-loop": "1s", "restart-backoff": "1s"})
    pod.advance(T0 + 1.5)

    pod.delete(T0 + 1.5, grace=30)

    assert pod.gone, "nothing runs during the back-off, so nothing is left to stop"


def test_a_pod_resumed_from_its_json_catches_up_exactly() -> None:
    annotations = {"crash-loop": "1s", "restart-backoff": "1s"}
    continuous = make_pod(policy=ALWAYS, annotations=annotations)
    stored = make_pod(policy=ALWAYS, annotations=annotations)
    stored.advance(T0 + 2.5)

    resumed = MockPod.from_json(stored.to_json(), lambda spec: behaviour.from_annotations(spec.metadata.annotations))

    assert resumed.status(T0 + 2.5) == stored.status(T0 + 2.5)
    assert container_status(resumed, T0 + 10.5) == container_status(continuous, T0 + 10.5)


def test_previous_logs_belong_to_the_instance_before_the_restart() -> None:
    pod = make_pod(container(script="echo run; sleep 1; exit 1"), policy=ALWAYS, annotations={"restart-backoff": "1s"})
    run = pod.runs["app"]
    pod.advance(T0 + 1.5)  # the first instance ran from T0 to T0+1 and waits to restart
    assert run.last_terminated() is run.current, "during the back-off, the last instance is both current and previous"

    pod.advance(T0 + 2.5)  # the second instance started at T0+2

    previous = run.last_terminated()
    assert run.current is not None
    assert previous is not None
    assert [line.time for line in pod.log_lines(run, previous, T0 + 2.5)] == [T0]
    assert [line.time for line in pod.log_lines(run, run.current, T0 + 2.5)] == [T0 + 2]


def test_runtime_env_values_and_expansion_use_the_pod_ip() -> None:
    app = container(
        script="echo $(MY_IP) $MY_IP",
        env=[container_pb2.EnvVar(name="MY_IP", runtime_value=container_pb2.RUNTIME_VALUE_POD_IP)],
        runtime_expansion=True,
    )
    pod = make_pod(app)
    run = pod.runs["app"]
    assert run.current is not None

    assert [line.content for line in pod.log_lines(run, run.current, T0)] == [b"10.244.0.5 10.244.0.5"]
    assert pod.context(app).env["MY_IP"] == "10.244.0.5"


def test_files_of_mounted_volumes_are_readable_at_their_mount_path() -> None:
    files = volume_pb2.FilesVolume(files=[volume_pb2.VolumeFile(path="conf/app.yaml", content=b"a: 1")])
    app = container(
        volume_mounts=[
            container_pb2.VolumeMount(name="config", mount_path="/etc/app"),
            container_pb2.VolumeMount(name="config", mount_path="/app.yaml", sub_path="conf/app.yaml"),
        ]
    )
    pod = make_pod(app)
    pod.spec.volumes.append(volume_pb2.Volume(name="config", files=files))

    assert pod.read_file(app, "/etc/app/conf/app.yaml") == b"a: 1"
    assert pod.read_file(app, "/app.yaml") == b"a: 1"
    assert pod.read_file(app, "/etc/app/other") is None


# -- ports --------------------------------------------------------------------------------------------------------


def serves(pod: MockPod, port: int, at: float) -> tuple[str, tuple[str, ...]] | None:
    """(container, program per connection) of what answers ``port`` at ``at``; None: connection refused."""
    pod.advance(at)
    server = pod.server(port, at)
    return None if server is None else (server.container, server.argv)


def tcp(
    *ports: int, protocol: container_pb2.PortProtocol.ValueType = container_pb2.PORT_PROTOCOL_TCP
) -> list[container_pb2.ContainerPort]:
    return [container_pb2.ContainerPort(container_port=port, protocol=protocol) for port in ports]


def test_a_tcpsvd_in_the_script_listens_from_when_it_runs_until_the_container_stops() -> None:
    pod = make_pod(
        container(script="echo started; sleep 2; tcpsvd 0.0.0.0 8080 cat"), annotations={"startup-delay": "1s"}
    )

    assert serves(pod, 8080, T0 + 0.5) is None, "the container is not created yet"
    assert serves(pod, 8080, T0 + 2.9) is None, "the script still sleeps before tcpsvd"
    assert serves(pod, 8080, T0 + 3) == ("app", ("cat",))
    assert serves(pod, 8081, T0 + 3) is None
    assert state(pod, T0 + 3600) == "running", "tcpsvd runs until stopped"
    pod.delete(T0 + 3600, grace=0)
    assert serves(pod, 8080, T0 + 3600) is None


def test_declared_tcp_ports_of_running_containers_answer_as_echo_servers() -> None:
    udp = container_pb2.PORT_PROTOCOL_UDP
    unspecified = container_pb2.PORT_PROTOCOL_UNSPECIFIED
    web = container("web", ports=tcp(80))
    dns = container("dns", script="sleep 5", ports=[*tcp(53, protocol=udp), *tcp(5353, protocol=unspecified)])
    pod = make_pod(web, dns)

    assert serves(pod, 80, T0) == ("web", ECHO)
    assert serves(pod, 5353, T0) == ("dns", ECHO), "an unspecified protocol is TCP"
    assert serves(pod, 53, T0) is None, "UDP ports take no TCP connection"
    assert serves(pod, 8080, T0) is None, "nothing listens on an undeclared port"
    assert serves(pod, 5353, T0 + 5) is None, "the container that declares the port has exited"
    assert serves(pod, 80, T0 + 5) == ("web", ECHO)


def test_the_program_that_listens_answers_before_the_declared_port() -> None:
    pod = make_pod(container(script="tcpsvd 0 8080 echo hi", ports=tcp(8080)))

    assert serves(pod, 8080, T0) == ("app", ("echo", "hi"))


def test_exec_servers_listen_until_they_stop_unless_the_port_is_taken() -> None:
    pod = make_pod(container("app"), container("server", script="tcpsvd 0.0.0.0 8080 cat"))

    assert pod.listen("app", 8080, ("cat",), T0) is None, "address in use: the server container listens there"
    first = pod.listen("app", 9000, ("cat",), T0)
    assert first is not None
    assert serves(pod, 9000, T0) == ("app", ("cat",))
    assert pod.listen("server", 9000, ("cat",), T0) is None

    pod.unlisten(9000, first)

    assert serves(pod, 9000, T0) is None
    second = pod.listen("server", 9000, ("echo", "2"), T0)
    assert second is not None
    pod.unlisten(9000, first)  # a stale stop does not close the port of the next server
    assert serves(pod, 9000, T0) == ("server", ("echo", "2"))


def test_an_exec_server_stops_listening_with_its_container_even_if_the_container_restarts() -> None:
    pod = make_pod(container(script="sleep 5"), policy=ALWAYS, annotations={"restart-backoff": "1s"})
    assert pod.listen("app", 9000, ("cat",), T0) is not None

    assert serves(pod, 9000, T0 + 5) is None
    assert state(pod, T0 + 6) == "running"
    assert serves(pod, 9000, T0 + 6) is None, "the exec'd server died with the instance it ran in"

"""kubectl exec, attach and port-forward through the real API server (the harness's version, 1.36) to the
controller's kubelet API and the mock provider.

The node declares ``ExtendWebSocketsToKubelet``, so the API server passes kubectl's WebSocket (v5 for exec and
attach, the SPDY tunnel for port-forward) straight through; with ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``
kubectl speaks SPDY instead, which the API server also passes through. Each test checks in the controller's log
which of the two the kubelet API actually served.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from integration.stack_fixtures import Stack, wait_for
from vk_harness import binaries


def _kubectl_argv(stack: Stack, *args: str) -> list[str]:
    kubectl = binaries.kubernetes_binary("kubectl", stack.plane.kubernetes_version)
    return [str(kubectl), f"--kubeconfig={stack.plane.admin.kubeconfig}", "-n", stack.namespace, *args]


def running_pod(
    stack: Stack,
    name: str,
    *,
    command: list[str] | None = None,
    restart_policy: str = "Always",
    **container: object,
) -> None:
    """A pod whose container ``main`` runs ``command`` (default: sleeps), with extra container fields; waits
    until it is Ready."""
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": stack.node,
            "restartPolicy": restart_policy,
            "containers": [
                {"name": "main", "image": "busybox:1.36", "command": command or ["sh", "-c", "sleep infinity"]}
                | container
            ],
        },
    }
    stack.plane.rest.create(f"/api/v1/namespaces/{stack.namespace}/pods", body)
    stack.wait_ready_pod(name, timeout=60)


def served(stack: Stack, pattern: str) -> str:
    """The controller's log line saying how a session was served (e.g. ``exec over WebSocket``)."""
    return wait_for(
        f"the controller to log {pattern!r}",
        lambda: next((line for line in stack.controller.process.log_tail(400).splitlines() if pattern in line), None),
        timeout=10,
    )


@pytest.fixture
def exec_pod(stack: Stack) -> str:
    running_pod(stack, "shell")
    return "shell"


def test_exec_runs_the_command_and_separates_stdout_and_stderr(stack: Stack, exec_pod: str) -> None:
    result = stack.plane.kubectl(
        "exec", "-n", stack.namespace, exec_pod, "--", "sh", "-c", "echo to-stdout; echo to-stderr >&2", check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "to-stdout\n"
    assert "to-stderr\n" in result.stderr
    assert "to-stdout" not in result.stderr
    assert "v5.channel.k8s.io" in served(stack, "exec over WebSocket")


def test_exec_pipes_stdin_to_the_command(stack: Stack, exec_pod: str) -> None:
    text = "first line\nsecond line\n" + "x" * 100_000 + "\n"
    result = stack.plane.kubectl("exec", "-i", "-n", stack.namespace, exec_pod, "--", "cat", input_text=text)
    assert result.stdout == text


def test_exec_exit_codes_reach_kubectl(stack: Stack, exec_pod: str) -> None:
    for code in (3, 1, 255):
        result = stack.plane.kubectl(
            "exec", "-n", stack.namespace, exec_pod, "--", "sh", "-c", f"exit {code}", check=False
        )
        assert result.returncode == code, result.stderr


def test_exec_unknown_command_is_sh_not_found(stack: Stack, exec_pod: str) -> None:
    result = stack.plane.kubectl("exec", "-n", stack.namespace, exec_pod, "--", "no-such-tool", check=False)
    assert result.returncode == 127
    assert "not found" in result.stderr


def test_exec_into_an_unknown_container_is_an_error(stack: Stack, exec_pod: str) -> None:
    result = stack.plane.kubectl("exec", "-n", stack.namespace, exec_pod, "-c", "nope", "--", "true", check=False)
    assert result.returncode != 0
    assert "nope" in result.stderr


def run_in_pty(stack: Stack, args: list[str], keystrokes: list[bytes], *, timeout: float = 30.0) -> tuple[int, str]:
    """Run kubectl ``args`` with a pseudo-terminal as its stdin, stdout and stderr; type ``keystrokes`` once
    the session had time to start; return kubectl's exit code and everything it printed (killed after
    ``timeout``)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on the terminal
        argv = _kubectl_argv(stack, *args)
        os.execv(argv[0], argv)  # noqa: S606
    output = b""
    started = time.monotonic()
    typed = False
    try:
        while time.monotonic() - started < timeout:
            if not typed and time.monotonic() - started > 2.0:
                for keys in keystrokes:
                    os.write(fd, keys)
                    time.sleep(0.2)
                typed = True
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's other end closed
                    break
                if not chunk:
                    break
                output += chunk
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), output.decode(errors="replace")
    finally:
        os.close(fd)


def test_exec_with_a_terminal(stack: Stack, exec_pod: str) -> None:
    # The quotes make what the shell in the pod prints differ from the terminal's own echo of what was typed.
    keystrokes = [b"echo typed'-in-'a-tty\n", b"exit 4\n"]
    code, output = run_in_pty(stack, ["exec", "-it", exec_pod, "--", "sh"], keystrokes)
    assert "typed-in-a-tty" in output, output
    assert code == 4, output
    assert "v5.channel.k8s.io" in served(stack, "exec over WebSocket")


@pytest.fixture
def spdy_kubectl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")
    monkeypatch.setenv("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")


def test_exec_over_spdy_passed_through(stack: Stack, exec_pod: str, spdy_kubectl: None) -> None:
    result = stack.plane.kubectl(
        "exec", "-i", "-n", stack.namespace, exec_pod, "--", "sh", "-c", "cat; echo done >&2; exit 6",
        input_text="over spdy\n",
        check=False,
    )  # fmt: skip
    assert result.returncode == 6, result.stderr
    assert result.stdout == "over spdy\n"
    assert "done" in result.stderr
    assert "v4.channel.k8s.io" in served(stack, "exec over SPDY")


# -- attach -------------------------------------------------------------------------------------------------------


def test_attach_streams_the_main_process_and_its_exit(stack: Stack) -> None:
    script = "sleep 6; echo from-main; sleep 1; exit 5"
    running_pod(stack, "talker", command=["sh", "-c", script], restart_policy="Never")
    result = stack.plane.kubectl("attach", "-n", stack.namespace, "talker", check=False, timeout=60)
    assert "from-main" in result.stdout, result.stderr
    # Like the kubelet's, attach ends in success however the process exited (the pod's status has the code).
    assert result.returncode == 0, result.stderr
    terminated = stack.wait_phase("talker", "Failed")["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 5
    assert served(stack, "attach over WebSocket")


def test_attach_with_stdin(stack: Stack) -> None:
    running_pod(stack, "listener", stdin=True)
    process = subprocess.Popen(
        _kubectl_argv(stack, "attach", "-i", "listener"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("hello attach\n")
        process.stdin.flush()
        line = _readline(process.stdout, timeout=20)
        assert line == "hello attach\n"
    finally:
        process.kill()
        process.wait()


def _readline(stream: object, timeout: float) -> str:
    import io

    assert isinstance(stream, io.TextIOBase)
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output in time"
    return stream.readline()


# -- port-forward -------------------------------------------------------------------------------------------------


@contextmanager
def port_forward(stack: Stack, pod: str, remote: int) -> Iterator[int]:
    """``kubectl port-forward`` to ``remote`` on a free local port; yields the local port."""
    process = subprocess.Popen(
        _kubectl_argv(stack, "port-forward", f"pod/{pod}", f":{remote}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = _readline(process.stdout, timeout=30)
        match = re.search(r"127\.0\.0\.1:(\d+) -> (\d+)", line)
        assert match, line
        yield int(match.group(1))
    finally:
        process.terminate()
        process.wait(timeout=10)


def round_trip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def test_port_forward_round_trips_bytes(stack: Stack) -> None:
    running_pod(stack, "server", ports=[{"containerPort": 8080}])
    with port_forward(stack, "server", 8080) as local:
        payload = bytes(range(256)) * 2048  # 512 KiB: far beyond SPDY's initial window
        assert round_trip(local, payload) == payload
        assert round_trip(local, b"a second connection") == b"a second connection"
    assert served(stack, "port-forward over SPDY in a WebSocket")


def test_port_forward_to_a_tcpsvd_server(stack: Stack) -> None:
    running_pod(stack, "tcpsvd", command=["sh", "-c", "tcpsvd 0.0.0.0 9090 cat"])
    with port_forward(stack, "tcpsvd", 9090) as local:
        assert round_trip(local, b"hello tcpsvd\n") == b"hello tcpsvd\n"


def test_port_forward_over_spdy_passed_through(stack: Stack, spdy_kubectl: None) -> None:
    running_pod(stack, "server", ports=[{"containerPort": 8080}])
    with port_forward(stack, "server", 8080) as local:
        assert round_trip(local, b"spdy all the way") == b"spdy all the way"
    assert served(stack, "port-forward over SPDY: ")

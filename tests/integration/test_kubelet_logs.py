"""``kubectl logs`` through the real API server to the controller's kubelet API, every option of it."""

from __future__ import annotations

import datetime
import re
import subprocess
import time
from typing import Any

from integration.stack_fixtures import MOCK, Stack, wait_for
from vk_harness import binaries

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")


def logs(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return stack.plane.kubectl("logs", "-n", stack.namespace, *args, check=check)


def run_pod(stack: Stack, name: str, script: str, **kwargs: Any) -> dict[str, Any]:
    stack.create_pod(name, command=["sh", "-c", script], **kwargs)
    return stack.wait_phase(name, "Running")


def wait_logged(stack: Stack, name: str, text: str, *args: str) -> str:
    return wait_for(
        f"{text!r} in the logs of {name}",
        lambda: out if text in (out := logs(stack, name, *args).stdout) else None,
        timeout=30,
        interval=0.3,
    )


def test_logs_show_what_the_container_wrote(stack: Stack) -> None:
    run_pod(stack, "hello", "echo hello from the mock; echo second line >&2; sleep 3600")

    out = wait_logged(stack, "hello", "second line")

    assert out == "hello from the mock\nsecond line\n"


def test_follow_streams_lines_as_they_are_written(stack: Stack) -> None:
    run_pod(stack, "ticker", "echo one; sleep 1; echo two; sleep 1; echo three; sleep 1; echo four; sleep 3600")
    kubectl = binaries.kubernetes_binary("kubectl", stack.plane.kubernetes_version)
    follower = subprocess.Popen(
        [str(kubectl), f"--kubeconfig={stack.plane.admin.kubeconfig}", "logs", "-f", "-n", stack.namespace, "ticker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        seen = []
        started = time.monotonic()
        for _ in range(4):
            seen.append(follower.stdout.readline().strip())
        elapsed = time.monotonic() - started
        assert seen == ["one", "two", "three", "four"]
        assert follower.poll() is None, "kubectl logs -f ended although the container still runs"
    finally:
        follower.kill()
        follower.wait(timeout=10)
    assert elapsed < 20


def test_tail_keeps_the_last_lines(stack: Stack) -> None:
    run_pod(stack, "tail", "echo a; echo b; echo c; echo d; sleep 3600")
    wait_logged(stack, "tail", "d")

    assert logs(stack, "tail", "--tail=2").stdout == "c\nd\n"
    assert logs(stack, "tail", "--tail=0").stdout == ""
    assert logs(stack, "tail", "--tail=-1").stdout == "a\nb\nc\nd\n"


def test_since_and_since_time_drop_older_lines(stack: Stack) -> None:
    run_pod(stack, "since", "echo old; sleep 6; echo new; sleep 3600")
    stamped = wait_logged(stack, "since", "new", "--timestamps")

    assert logs(stack, "since", "--since=4s").stdout == "new\n"
    assert logs(stack, "since", "--since=1h").stdout == "old\nnew\n"
    times = {STAMP.match(line).group(2): STAMP.match(line).group(1) for line in stamped.splitlines()}  # type: ignore[union-attr]
    new_at = datetime.datetime.fromisoformat(times["new"][:19] + "+00:00")
    assert logs(stack, "since", f"--since-time={new_at:%Y-%m-%dT%H:%M:%SZ}").stdout == "new\n"


def test_timestamps_prefix_every_line_with_nanoseconds(stack: Stack) -> None:
    run_pod(stack, "stamps", "echo first; echo second; sleep 3600")
    out = wait_logged(stack, "stamps", "second", "--timestamps")

    lines = out.splitlines()
    assert [STAMP.match(line).group(2) for line in lines] == ["first", "second"]  # type: ignore[union-attr]
    written = datetime.datetime.fromisoformat(STAMP.match(lines[0]).group(1)[:26] + "+00:00")  # type: ignore[union-attr]
    assert abs((datetime.datetime.now(datetime.UTC) - written).total_seconds()) < 120


def test_limit_bytes_cuts_the_output(stack: Stack) -> None:
    run_pod(stack, "limited", "echo hello world; echo more; sleep 3600")
    wait_logged(stack, "limited", "more")

    assert logs(stack, "limited", "--limit-bytes=5").stdout == "hello"
    assert logs(stack, "limited", "--limit-bytes=14").stdout == "hello world\nmo"


def test_previous_shows_the_instance_before_the_restart(stack: Stack) -> None:
    run_pod(
        stack,
        "crasher",
        "echo an instance started; sleep 3600",
        annotations={MOCK + "crash-loop": "1s", MOCK + "restart-backoff": "100ms"},
    )
    run_pod(stack, "steady", "echo steady; sleep 3600")

    def restarted() -> dict[str, Any] | None:
        pod = stack.must_pod("crasher")
        status = pod["status"]["containerStatuses"][0]
        return pod if status["restartCount"] >= 1 and status["lastState"].get("terminated") else None

    wait_for("crasher to restart", restarted, timeout=30, describe=lambda: str(stack.must_pod("crasher")["status"]))

    assert logs(stack, "crasher", "--previous").stdout == "an instance started\n"
    steady = logs(stack, "steady", "--previous", check=False)
    assert steady.returncode != 0
    assert 'previous terminated container "main" in pod "steady" not found' in steady.stderr


def test_container_flag_picks_one_container_of_several(stack: Stack) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pair"},
        "spec": {
            "nodeName": stack.node,
            "containers": [
                {"name": "first", "image": "busybox:1.36", "command": ["sh", "-c", "echo from first; sleep 3600"]},
                {"name": "second", "image": "busybox:1.36", "command": ["sh", "-c", "echo from second; sleep 3600"]},
            ],
        },
    }
    stack.plane.rest.create(f"/api/v1/namespaces/{stack.namespace}/pods", body)
    stack.wait_phase("pair", "Running")

    assert wait_logged(stack, "pair", "from second", "-c", "second") == "from second\n"
    assert logs(stack, "pair", "-c", "first").stdout == "from first\n"
    everything = logs(stack, "pair", "--all-containers", "--prefix").stdout
    assert "[pod/pair/first] from first" in everything
    assert "[pod/pair/second] from second" in everything


def test_a_waiting_container_has_no_logs_yet(stack: Stack) -> None:
    stack.create_pod("slow", command=["sh", "-c", "echo late; sleep 3600"], annotations={MOCK + "startup-delay": "1h"})

    def waiting() -> bool:
        statuses = stack.must_pod("slow").get("status", {}).get("containerStatuses", [])
        return bool(statuses) and "waiting" in statuses[0]["state"]

    wait_for("slow to report a waiting container", waiting, timeout=30)
    result = logs(stack, "slow", check=False)

    assert result.returncode != 0
    assert 'container "main" in pod "slow" is waiting to start: ContainerCreating' in result.stderr

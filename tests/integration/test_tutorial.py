"""docs/writing-a-provider.md, followed literally: its files written out, its commands run, the kit passing.

The tutorial marks what a reader would save and run, so nothing here is a copy of it:

- a line ``File: `NAME``` right before a fenced block: the block is the file NAME;
- an HTML comment right before every ``sh`` block says what the test does with it: ``<!-- test: run -->`` (run it to
  the end; it must exit 0), ``<!-- test: background -->`` (start it and wait for ``listening on``; it runs until the
  test ends) or ``<!-- test: skip: WHY -->``.

Commands run in a fresh directory holding the files, with the workspace's environment first on ``PATH`` (as after
the tutorial's ``source .venv/bin/activate``) and ``VK_REPO`` set to this checkout. The one liberty taken: the
tutorial's port 50061 becomes a free port, so parallel runs cannot collide.

Section 5's commands need a cluster and are marked skip; the last test does what they describe on the session's
control plane instead: the example provider on a Unix socket beside vk-controller, running a pod.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.stack_fixtures import Stack, wait_for
from vk_harness import ControlPlane
from vk_harness.processes import Process, free_port
from vk_harness.rest import ApiError
from vk_harness.stack import ProviderProcess, start_controller

REPO = Path(__file__).resolve().parents[2]
TUTORIAL = REPO / "docs" / "writing-a-provider.md"
TUTORIAL_PORT = "50061"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
_FILE = re.compile(r"^File: `([^`]+)`\n\Z")
_MARK = re.compile(r"^<!-- test: (run|background|skip: .+) -->\n\Z")


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    #: The line right before the fence.
    caption: str


@dataclass(frozen=True)
class Step:
    action: str
    command: str


def _blocks(markdown: str) -> list[Block]:
    blocks = []
    for match in _FENCE.finditer(markdown):
        before = markdown[: match.start()].splitlines(keepends=True)
        blocks.append(Block(match[1], match[2], before[-1] if before else ""))
    return blocks


def _files(blocks: list[Block]) -> dict[str, str]:
    return {m[1]: block.text for block in blocks if (m := _FILE.match(block.caption))}


def _steps(blocks: list[Block]) -> list[Step]:
    steps = []
    for block in blocks:
        if block.language != "sh":
            continue
        mark = _MARK.match(block.caption)
        assert mark, f"this sh block of the tutorial says neither run, background nor skip:\n{block.text}"
        steps.append(Step(mark[1], block.text.strip()))
    return steps


@pytest.fixture
def tutorial() -> tuple[dict[str, str], list[Step]]:
    blocks = _blocks(TUTORIAL.read_text())
    return _files(blocks), _steps(blocks)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    directory = tmp_path / "my-provider"
    directory.mkdir()
    return directory


@pytest.fixture
def environment() -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": venv_bin + os.pathsep + os.environ["PATH"], "VK_REPO": str(REPO)}


@pytest.fixture
def background() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def _start(command: str, *, cwd: Path, env: dict[str, str], started: list[Process]) -> Process:
    name = f"background-{len(started)}"
    argv = ["bash", "-c", f"cd {shlex.quote(str(cwd))} && exec {command}"]
    process = Process(name, argv, log_path=cwd.parent / f"{name}.log", env=env)
    process.start()
    started.append(process)
    deadline = time.monotonic() + 60
    while "listening on" not in process.log_tail(200):
        assert process.running(), f"`{command}` exited:\n{process.log_tail()}"
        assert time.monotonic() < deadline, f"`{command}` did not print `listening on`:\n{process.log_tail()}"
        time.sleep(0.05)
    return process


def test_the_tutorial_marks_its_files_and_commands(tutorial: tuple[dict[str, str], list[Step]]) -> None:
    files, steps = tutorial

    assert {"hello_provider.py", "hello_hook.py"} <= set(files), sorted(files)
    assert [s.action for s in steps].count("background") == 1, steps
    assert any(s.action == "run" and s.command.startswith("vk-conformance --target") for s in steps), steps


def test_following_the_tutorial_ends_in_a_passing_conformance_run(
    tutorial: tuple[dict[str, str], list[Step]], workdir: Path, environment: dict[str, str], background: list[Process]
) -> None:
    files, steps = tutorial
    for name, text in files.items():
        (workdir / name).write_text(text)
    port = str(free_port())

    runs = []
    for step in steps:
        command = step.command.replace(TUTORIAL_PORT, port)
        if step.action == "background":
            _start(command, cwd=workdir, env=environment, started=background)
        elif step.action == "run":
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=workdir,
                env=environment,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            output = f"$ {command}\n{result.stdout}\n{result.stderr}"
            assert result.returncode == 0, f"a command of the tutorial failed (exit {result.returncode}):\n{output}"
            runs.append((command, result.stdout))

    kit_runs = [stdout for command, stdout in runs if command.startswith("vk-conformance")]
    assert kit_runs, "the tutorial ran no vk-conformance"
    assert "provider: hello 0.1.0, protocol 1.0" in kit_runs[0], kit_runs[0]
    assert re.search(r"\b\d+ passed\b", kit_runs[0]), kit_runs[0]
    assert " failed" not in kit_runs[0], kit_runs[0]
    generated = workdir / "gen" / "virtualkubelet" / "provider" / "v1"
    assert (generated / "provider_pb2_grpc.py").is_file(), sorted(p.name for p in workdir.rglob("*"))


def test_the_tutorials_provider_runs_a_pod_beside_the_controller(
    tutorial: tuple[dict[str, str], list[Step]],
    control_plane: ControlPlane,
    namespace: str,
    node_name: str,
    workdir: Path,
    environment: dict[str, str],
    background: list[Process],
) -> None:
    """Section 5: the provider on a Unix socket, the controller as the node; a pod of the kind the example runs."""
    files, _ = tutorial
    (workdir / "hello_provider.py").write_text(files["hello_provider.py"])
    socket = workdir / "provider.sock"
    address = f"unix:{socket}"
    process = _start(f"python hello_provider.py --listen {address}", cwd=workdir, env=environment, started=background)
    provider = ProviderProcess(process=process, address=address, state_file=None)
    controller = start_controller(control_plane, workdir.parent, node_name=node_name, provider_address=address)
    try:
        stack = Stack(control_plane, workdir.parent, node_name, namespace, provider, controller, controller.intervals)
        wait_for(
            "the node to be Ready",
            lambda: _node_ready(stack),
            timeout=30,
            describe=controller.process.log_tail,
        )
        # As section 5 says: no service-account token volume (the example runs no volumes), restartPolicy Never.
        command = ["sh", "-c", "echo hello; exit 0"]
        stack.create_pod("hello", command=command, restart_policy="Never", automountServiceAccountToken=False)
        pod = stack.wait_phase("hello", "Succeeded")
        stack.create_pod("hello-always", command=command, automountServiceAccountToken=False)  # restartPolicy Always
        failed = stack.wait_phase("hello-always", "Failed")
    finally:
        controller.process.stop()

    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0, pod["status"]
    assert "spec.restartPolicy" in failed["status"].get("message", ""), failed["status"]


def _node_ready(stack: Stack) -> bool:
    try:
        return stack.node_condition().get("status") == "True"
    except ApiError:  # not registered yet
        return False

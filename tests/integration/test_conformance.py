"""The conformance kit, run the way provider authors run it: ``vk-conformance --target ...`` as a command.

Against the in-repo mock provider every check must pass (or be skipped for a capability it does not declare);
against ``broken_provider.py`` the run must fail, and its output must name the checks that failed and say what was
expected and what came back, without Python tracebacks. A run with ``--hook`` shows the hook protocol at work:
:class:`RecordingHook` is the kind of object a test owning a simulated backend passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from virtualkubelet.provider.v1 import pod_pb2
from vk_conformance.hook import ExecExpectation, Expectation
from vk_harness.pki import CertificateAuthority
from vk_harness.processes import Process, free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BROKEN_PROVIDER = Path(__file__).with_name("broken_provider.py")
KIT_TIMEOUT = "30"
HOOK_LOG_ENV = "VK_CONFORMANCE_TEST_HOOK_LOG"

#: Checks the mock once failed, fixed in the mock rather than by weakening the kit: `>&2` in its shell (exec
#: declares separate_stderr), the echo-server pod (`tcpsvd 0.0.0.0 8080 cat`), and UNAVAILABLE for a port nothing
#: listens on. They must run and pass: neither deselected nor skipped.
FORMERLY_FAILING = (
    "test_exec_delivers_stdout_and_stderr",
    "test_port_forward_carries_a_tcp_connection_both_ways",
    "test_port_forward_to_a_closed_port_is_unavailable",
)


class RecordingHook:
    """A hook that only records what the kit told it, one JSON line per call, in ``$VK_CONFORMANCE_TEST_HOOK_LOG``."""

    def _record(self, entry: dict[str, object]) -> None:
        with Path(os.environ[HOOK_LOG_ENV]).open("a") as log:
            log.write(json.dumps(entry) + "\n")

    async def before_create(self, pod: pod_pb2.Pod, expectation: Expectation) -> None:
        self._record(
            {
                "call": "before_create",
                "name": pod.metadata.name,
                "command": list(pod.containers[0].command),
                "stdout_lines": list(expectation.stdout_lines),
                "exit_code": expectation.exit_code,
            }
        )

    async def before_exec(self, pod: pod_pb2.PodRef, container: str, expectation: ExecExpectation) -> None:
        self._record({"call": "before_exec", "container": container, "command": list(expectation.command)})


@contextlib.contextmanager
def _start(name: str, argv: list[str], tmp_path: Path) -> Iterator[str]:
    """Start a provider and yield its address once it printed ``listening on``."""
    process = Process(name, argv, log_path=tmp_path / f"{name}.log")
    process.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            match = re.search(r"listening on (\S+)", process.log_tail(200))
            if match:
                break
            if not process.running() or time.monotonic() > deadline:
                pytest.fail(f"{name} did not start listening; its output:\n{process.log_tail()}")
            time.sleep(0.05)
        yield match[1]
    finally:
        process.stop()


@pytest.fixture
def mock_provider(tmp_path: Path) -> Iterator[str]:
    argv = [str(BIN / "vk-provider-mock"), "--listen", f"127.0.0.1:{free_port()}"]
    with _start("vk-provider-mock", argv, tmp_path) as address:
        yield address


@pytest.fixture
def broken_provider(tmp_path: Path) -> Iterator[str]:
    argv = [sys.executable, str(BROKEN_PROVIDER), "--listen", f"127.0.0.1:{free_port()}"]
    with _start("broken-provider", argv, tmp_path) as address:
        yield address


def _kit(target: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "vk-conformance"), "--target", target, "--timeout", KIT_TIMEOUT, *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_the_mock_provider_passes_every_check(mock_provider: str) -> None:
    run = _kit(mock_provider, "-v")

    assert run.returncode == 0, f"vk-conformance failed against the mock provider:\n{run.stdout}\n{run.stderr}"
    assert "provider: mock" in run.stdout
    assert " passed" in run.stdout
    for check in FORMERLY_FAILING:
        assert re.search(rf"::{check} PASSED\b", run.stdout), f"{check} did not run and pass:\n{run.stdout}"


def test_the_hook_hears_of_every_pod_and_command_the_kit_expects_to_run(mock_provider: str, tmp_path: Path) -> None:
    hook_log = tmp_path / "hook.jsonl"
    hook = "tests.integration.test_conformance:RecordingHook"

    run = _kit(mock_provider, "--hook", hook, "-k", "exits_3 or exit_code", env={HOOK_LOG_ENV: str(hook_log)})

    assert run.returncode == 0, f"vk-conformance --hook failed:\n{run.stdout}\n{run.stderr}"
    assert f"hook {hook}" in run.stdout
    calls = [json.loads(line) for line in hook_log.read_text().splitlines()]
    creates = [call for call in calls if call["call"] == "before_create"]
    assert any(
        call["stdout_lines"] == ["conformance-hello"]
        and call["exit_code"] == 3
        and call["command"] == ["sh", "-c", "echo conformance-hello; exit 3"]
        for call in creates
    ), creates
    if re.search(r"^capabilities: .*\bexec\b", run.stdout, re.MULTILINE):  # exec declared: the hook hears of it
        assert {"call": "before_exec", "container": "main", "command": ["sh", "-c", "exit 7"]} in calls, calls


def test_a_broken_provider_fails_with_readable_messages(broken_provider: str) -> None:
    run = _kit(broken_provider)
    output = run.stdout + run.stderr

    assert run.returncode != 0, output
    expected_failures = {
        "test_a_pod_that_exits_3_ends_failed_with_exit_code_3": (
            "expected container 'main' terminated with exit code 3 and phase FAILED; got phase SUCCEEDED; "
            "container 'main' terminated with exit code 0"
        ),
        "test_create_is_idempotent_by_uid": (
            "expected ListPods to show the pod created twice exactly once; got it 2 times"
        ),
        "test_delete_of_an_unknown_uid_answers_gone": (
            "expected DeletePod of a UID the provider was never sent to answer OK with state GONE (never NOT_FOUND); "
            "got NOT_FOUND"
        ),
        "test_an_unsupported_volume_is_refused_naming_the_field": (
            "expected CreatePod of a pod with a hostPath volume (UnsupportedVolume) to fail with INVALID_ARGUMENT; "
            "got OK"
        ),
    }
    for check, message in expected_failures.items():
        assert re.search(rf"FAILED \S+::{check}\b", output), f"{check} is not reported as failed:\n{output}"
        assert message in output, f"the failure of {check} does not say {message!r}:\n{output}"
    assert "passed" in output  # the checks the broken provider gets right still pass
    assert "Traceback" not in output, output
    assert "AioRpcError" not in output, output


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.7", "protocol: the provider speaks protocol 1.7, newer than this kit's 1.0: only 1.0 is checked"),
        ("2.0", "the provider refused the kit's Handshake because of the protocol version"),
    ],
)
def test_the_kit_checks_the_providers_protocol_version_against_its_own(
    version: str, expected: str, tmp_path: Path
) -> None:
    argv = [str(BIN / "vk-provider-mock"), "--listen", f"127.0.0.1:{free_port()}", "--protocol-version", version]
    with _start(f"mock-{version}", argv, tmp_path) as target:
        run = _kit(target, "-k", "handshake")
    output = run.stdout + run.stderr

    assert expected in output, output
    if version == "2.0":  # another major: the run stops at once, failed, before any check
        assert run.returncode == pytest.ExitCode.TESTS_FAILED, output
        assert " passed" not in output, output
    else:
        assert run.returncode == 0, output


def test_the_kit_reaches_a_provider_over_mtls(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    server = ca.issue("provider", common_name="provider", ip_addresses=("127.0.0.1",), server=True)
    client = ca.issue("controller", common_name="controller", client=True)
    argv = [sys.executable, str(BROKEN_PROVIDER), "--listen", f"127.0.0.1:{free_port()}"]
    argv += [
        "--tls-cert",
        str(server.cert_path),
        "--tls-key",
        str(server.key_path),
        "--tls-client-ca",
        str(ca.cert_path),
    ]
    with _start("broken-provider-mtls", argv, tmp_path) as target:
        tls = ["--tls-ca", str(ca.cert_path), "--tls-cert", str(client.cert_path), "--tls-key", str(client.key_path)]
        run = _kit(target, *tls, "-k", "handshake")
        refused = _kit(target, "--tls-ca", str(ca.cert_path), "-k", "handshake")  # no client certificate

    assert run.returncode == 0, f"vk-conformance over mTLS failed:\n{run.stdout}\n{run.stderr}"
    assert "mTLS" in run.stdout
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR, refused.stdout + refused.stderr
    assert f"no provider answers at {target}" in refused.stderr

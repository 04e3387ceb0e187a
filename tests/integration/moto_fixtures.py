"""Moto in server mode as the Fargate provider's backend, with a small control API that plays the container runtime.

Run as its own process (``python tests/integration/moto_fixtures.py --port P --control-port C``), it serves moto's
ordinary server application on P (the provider reaches it through ``--endpoint-url``, its production code path) and,
on C, a control API for tests only. Moto 5.2 does not run containers, so the control API fills the gaps in the
*backend* (never in the provider):

- ``POST /script`` ``{"uid", "stdout_lines", "exit_code"}``: once a task tagged with that pod UID exists, its
  (first, the only one moto lists) container becomes RUNNING (moto lists only the task definition's first
  container; when that is the provider's ``vk-files`` helper, the runtime reports it exited 0 and adds the next
  container, which is the one scripted), the lines are written to the container's awslogs
  stream, and, if ``exit_code`` is not null, half a second later the container stops with that code and the task
  stops with stopCode ``EssentialContainerExited``, as ECS does when an essential container exits;
- ``GET /counts``: ECS and CloudWatch Logs API calls by operation (from the ``X-Amz-Target`` header), so tests can
  count RunTask and DescribeTasks calls.

Moto's task state machine is set to "manual" with an unreachable tick count, so a task stays RUNNING until it is
stopped (by default moto advances it one state per DescribeTasks). ``ConformanceHook`` is the vk-conformance hook
that posts the kit's expectations to the control API (``$VK_FARGATE_TEST_MOTO_CONTROL``).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "vk-test"
LOG_GROUP = "/vk/test"
LOG_PREFIX = "vk"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/vk-execution"
CONTROL_ENV = "VK_FARGATE_TEST_MOTO_CONTROL"
UID_TAG = "virtual-kubelet.io/pod-uid"
FILES_HELPER = "vk-files"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- the server process -----------------------------------------------------------------------------------------------


class _Runtime:
    """Plays the container runtime for scripted tasks, inside the moto process."""

    def __init__(self, endpoint: str) -> None:
        self.scripts: dict[str, dict[str, Any]] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self._progress: dict[str, float] = {}
        self._done: set[str] = set()
        self._logs = boto3.client(
            "logs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self._lock = threading.Lock()

    def run_forever(self) -> None:
        while True:
            try:
                self.step()
            except Exception as error:  # keep scripting; the test sees the consequence
                print(f"moto runtime: {error!r}", file=sys.stderr, flush=True)
            time.sleep(0.1)

    def step(self) -> None:
        from moto.backends import get_backend

        ecs = get_backend("ecs")[ACCOUNT][REGION]
        for cluster_tasks in list(ecs.tasks.values()):
            for arn, task in list(cluster_tasks.items()):
                if arn in self._done:
                    continue
                uid = {t["key"]: t["value"] for t in task.tags or []}.get(UID_TAG)
                with self._lock:
                    script = self.scripts.get(uid or "")
                if script is None:
                    continue
                if task.last_status == "STOPPED":
                    self._done.add(arn)
                    continue
                if arn not in self._progress:
                    self._after_files_helper(ecs, task)
                container = task.containers[-1]
                if arn not in self._progress:
                    container.last_status = "RUNNING"
                    self._write_logs(str(container.name), arn, [str(line) for line in script["stdout_lines"]])
                    self._progress[arn] = time.monotonic()
                elif script["exit_code"] is not None and time.monotonic() - self._progress[arn] >= 0.5:
                    container.last_status = "STOPPED"
                    container.exitCode = int(script["exit_code"])
                    task.stop_code = "EssentialContainerExited"  # type: ignore[attr-defined]  # moto serializes it
                    task.stopped_reason = "Essential container in task exited"
                    task.desired_status = "STOPPED"
                    task.last_status = "STOPPED"
                    self._done.add(arn)

    @staticmethod
    def _after_files_helper(ecs: Any, task: Any) -> None:
        """The ``vk-files`` helper (if it is the listed container) has run: exited 0, and the next container exists."""
        definitions = ecs.describe_task_definition(task.task_definition_arn).container_definitions
        if len(task.containers) != 1 or len(definitions) < 2 or definitions[0].get("name") != FILES_HELPER:
            return
        helper = task.containers[0]
        helper.last_status = "STOPPED"
        helper.exitCode = 0
        container = copy.copy(helper)
        container.container_arn = f"{helper.task_arn}/{uuid.uuid4()}"
        container.name = definitions[1].get("name")
        container.image = definitions[1].get("image")
        container.last_status = "PENDING"
        container.exitCode = None
        task.containers.append(container)

    def _write_logs(self, container: str, task_arn: str, lines: Iterable[str]) -> None:
        stream = f"{LOG_PREFIX}/{container}/{task_arn.rsplit('/', 1)[-1]}"
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        now = int(time.time() * 1000)
        events: list[InputLogEventTypeDef] = [
            {"timestamp": now + index, "message": line} for index, line in enumerate(lines)
        ]
        if events:
            self._logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


def _control_handler(runtime: _Runtime) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(dict(runtime.counts))

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            if self.path == "/script":
                runtime.scripts[str(body["uid"])] = body
            self._answer({"ok": True})

    return Handler


def _counting(app: Callable[..., Any], counts: collections.Counter[str]) -> Callable[..., Any]:
    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target:
            counts[target.rsplit(".", 1)[-1]] += 1
        return app(environ, start_response)

    return wrapped


def serve(port: int, control_port: int) -> None:
    from moto.moto_api import state_manager
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    state_manager.set_transition(model_name="ecs::task", transition={"progression": "manual", "times": 10**9})
    runtime = _Runtime(f"http://127.0.0.1:{port}")
    app = _counting(DomainDispatcherApplication(create_backend_app), runtime.counts)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    control = ThreadingHTTPServer(("127.0.0.1", control_port), _control_handler(runtime))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    threading.Thread(target=runtime.run_forever, daemon=True).start()
    print(f"moto listening on {port}, control on {control_port}", flush=True)
    server.serve_forever()


# -- the test side ----------------------------------------------------------------------------------------------------


@dataclass
class MotoBackend:
    endpoint: str
    control: str
    subnet: str
    security_group: str

    def counts(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.control}/counts", timeout=10) as answer:  # noqa: S310 - loopback
            return {str(k): int(v) for k, v in json.loads(answer.read()).items()}

    def script(self, uid: str, *, stdout_lines: Iterable[str] = (), exit_code: int | None = None) -> None:
        """Tell the runtime what the container of the pod with ``uid`` does (see ``POST /script``)."""
        body = json.dumps({"uid": uid, "stdout_lines": list(stdout_lines), "exit_code": exit_code}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.control}/script", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
            pass

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the moto server (for tests that inspect what the provider made)."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def secrets_for(self, uid: str) -> list[dict[str, Any]]:
        """The Secrets Manager secrets (ListSecrets entries, tags included) tagged with pod ``uid``."""
        pages = self.client("secretsmanager").get_paginator("list_secrets").paginate()
        return [
            dict(entry)
            for page in pages
            for entry in page["SecretList"]
            if {t.get("Key"): t.get("Value") for t in entry.get("Tags", [])}.get(UID_TAG) == uid
        ]

    def task_for(self, uid: str) -> dict[str, Any] | None:
        """The ECS task (as DescribeTasks returns it, tags included) tagged with pod ``uid``, running or stopped."""
        ecs = boto3.client(
            "ecs",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        pages = ecs.get_paginator("list_tasks")
        arns = [
            arn
            for desired in ("RUNNING", "STOPPED")
            for page in pages.paginate(cluster=CLUSTER, desiredStatus=desired)
            for arn in page["taskArns"]
        ]
        for start in range(0, len(arns), 100):
            answer = ecs.describe_tasks(cluster=CLUSTER, tasks=arns[start : start + 100], include=["TAGS"])
            for task in answer["tasks"]:
                if {t.get("key"): t.get("value") for t in task.get("tags", [])}.get(UID_TAG) == uid:
                    return dict(task)
        return None

    def provider_args(self, *extra: str) -> list[str]:
        return [
            "--cluster",
            CLUSTER,
            "--region",
            REGION,
            "--subnets",
            self.subnet,
            "--security-groups",
            self.security_group,
            "--execution-role-arn",
            EXECUTION_ROLE,
            "--log-group",
            LOG_GROUP,
            "--log-stream-prefix",
            LOG_PREFIX,
            "--endpoint-url",
            self.endpoint,
            "--poll-interval",
            "0.2",
            "--max-poll-interval",
            "1",
            *extra,
        ]


@contextlib.contextmanager
def moto_backend(log_path: Path) -> Iterator[MotoBackend]:
    """The moto process with a VPC (DNS hostnames on: moto's ENIs need it), a subnet, a group, the cluster, the
    log group."""
    port, control_port = free_port(), free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, __file__, "--port", str(port), "--control-port", str(control_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **AWS_ENV},
        )
    try:
        deadline = time.monotonic() + 30
        while "moto listening" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        endpoint = f"http://127.0.0.1:{port}"
        ec2 = boto3.client(
            "ec2",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        vpc = ec2.create_vpc(CidrBlock="10.16.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.16.0.0/20")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="vk", Description="vk tasks", VpcId=vpc)["GroupId"]
        boto3.client(
            "ecs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_cluster(clusterName=CLUSTER)
        boto3.client(
            "logs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_log_group(logGroupName=LOG_GROUP)
        yield MotoBackend(endpoint, f"http://127.0.0.1:{control_port}", subnet, group)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


class ConformanceHook:
    """The vk-conformance hook: tells the moto runtime what each kit pod's container does."""

    async def before_create(self, pod: Any, expectation: Any) -> None:
        body = json.dumps(
            {
                "uid": pod.metadata.uid,
                "stdout_lines": list(expectation.stdout_lines),
                "exit_code": expectation.exit_code,
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            os.environ[CONTROL_ENV] + "/script", data=body, headers={"Content-Type": "application/json"}
        )

        def post() -> None:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
                pass

        import asyncio

        await asyncio.to_thread(post)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    options = parser.parse_args()
    serve(options.port, options.control_port)

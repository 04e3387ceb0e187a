"""A secret's value goes to the provider and nowhere else: not into logs, traces, Events, pod statuses or error
answers, whichever path it takes through the controller.

A Secret holds a random canary value. Pods use it every way a pod can (env ``secretKeyRef``, ``envFrom``, a secret
volume, an image pull secret), and along the error paths too (a pod the provider refuses with an error that
quotes the secret, a missing key, a spec the node refuses, exec and logs of a container that does not exist), on a
stack with debug logging, JSON logs and tracing on. Then the canary, as it is and base64-encoded as the API serves
it, must be absent from everything the product wrote or answered, and present in the provider's backend (the
mock's state file), so the test fails if the secret never reached the provider at all.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import ssl
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from integration.stack_fixtures import MOCK, Stack, running_stack, wait_for
from vk_harness import ControlPlane
from vk_provider_sdk.redaction import REDACTED


class RawCollector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace collector that keeps every export request as it was sent (names, attributes, events,
    status messages: all of it)."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.spans = 0
        self._lock = threading.Lock()

    def Export(  # noqa: N802 - gRPC method name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        count = sum(len(scope.spans) for spans in request.resource_spans for scope in spans.scope_spans)
        with self._lock:
            self.requests.append(request.SerializeToString())
            self.spans += count
        return trace_service_pb2.ExportTraceServiceResponse()

    def exported(self) -> bytes:
        with self._lock:
            return b"".join(self.requests)


@pytest.fixture
def collector() -> Iterator[tuple[RawCollector, int]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = RawCollector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(0)


def kubelet_call(stack: Stack, method: str, path: str) -> tuple[int, str]:
    """A kubelet API request as the cluster admin: status and body."""
    context = ssl.create_default_context(cafile=str(stack.plane.ca.cert_path))
    admin = stack.plane.admin.credentials
    context.load_cert_chain(str(admin.cert_path), str(admin.key_path))
    connection = http.client.HTTPSConnection(
        stack.controller.node_address, stack.controller.kubelet_port, context=context, timeout=20
    )
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def docker_config(user: str, password: str) -> str:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {"registry.example.com": {"username": user, "password": password, "auth": auth}}})


def test_a_canary_secret_reaches_the_provider_and_no_log_trace_event_status_or_error(
    control_plane: ControlPlane,
    tmp_path: Path,
    namespace: str,
    node_name: str,
    collector: tuple[RawCollector, int],
) -> None:
    canary = "canary" + secrets.token_hex(15)  # 36 characters: its base64 form stands alone in the API's JSON
    forms = {canary, base64.b64encode(canary.encode()).decode()}
    traces, port = collector
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with running_stack(
        control_plane,
        tmp_path,
        namespace,
        node_name,
        env=env,
        provider_args=("--log-level=debug",),
        controller_args=("--log-level=debug", "--log-format=json"),
    ) as stack:
        rest = stack.plane.rest
        secrets_path = f"/api/v1/namespaces/{namespace}/secrets"
        rest.create(secrets_path, {"metadata": {"name": "canary"}, "stringData": {"token": canary}})
        rest.create(
            secrets_path,
            {
                "metadata": {"name": "canary-pull"},
                "type": "kubernetes.io/dockerconfigjson",
                "stringData": {".dockerconfigjson": docker_config("robot", canary)},
            },
        )
        by_key = {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "canary", "key": "token"}}}
        env_vars: list[object] = [by_key, {"name": "ECHOED", "value": "prefix-$(TOKEN)-suffix"}]
        uses = {
            "env": env_vars,
            "envFrom": [{"secretRef": {"name": "canary"}, "prefix": "ALL_"}],
            "volumeMounts": [{"name": "secret", "mountPath": "/etc/canary"}],
        }
        volumes = [{"name": "secret", "secret": {"secretName": "canary"}}]
        pull = [{"name": "canary-pull"}]

        def pod(name: str, *, annotations: dict[str, str] | None = None, **spec: object) -> None:
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "annotations": annotations or {}},
                "spec": {
                    "nodeName": stack.node,
                    "containers": [{"name": "main", "image": "registry.example.com/app:1", **uses}],
                    "volumes": volumes,
                    "imagePullSecrets": pull,
                    **spec,
                },
            }
            rest.create(f"/api/v1/namespaces/{namespace}/pods", body)

        # The way it should go: the provider runs the pod with the secret.
        pod("consumer")
        stack.wait_ready_pod("consumer")
        pods_answer = kubelet_call(stack, "GET", "/pods")  # the pods as the kubelet API shows them
        assert pods_answer[0] == 200
        assert "consumer" in pods_answer[1]
        # The provider refuses a pod quoting the secret, as a backend that echoes its input would (the mock takes
        # the message from an annotation, so this pod object alone holds the canary in its metadata).
        echoed = f"Refused: the backend said no to TOKEN={canary}"
        pod("refused", annotations={MOCK + "fail-create": echoed})
        # A key the Secret does not have: the pod waits with CreateContainerConfigError.
        missing = {"name": "MISSING", "valueFrom": {"secretKeyRef": {"name": "canary", "key": "nope"}}}
        uses_missing = {**uses, "env": [*env_vars, missing]}
        rest.create(
            f"/api/v1/namespaces/{namespace}/pods",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "missing-key"},
                "spec": {
                    "nodeName": stack.node,
                    "containers": [{"name": "main", "image": "busybox:1.36", **uses_missing}],
                    "volumes": volumes,
                },
            },
        )
        # A spec the node cannot run: refused before anything is resolved.
        pod("host-network", hostNetwork=True)

        def settled() -> bool:
            reasons = {e.get("reason") for e in rest.get(f"/api/v1/namespaces/{namespace}/events")["items"]}
            refused = stack.pod("refused") or {}
            missing_key = stack.pod("missing-key") or {}
            waiting = [
                s.get("state", {}).get("waiting", {}).get("reason")
                for s in missing_key.get("status", {}).get("containerStatuses", [])
            ]
            host = stack.pod("host-network") or {}
            return bool(
                refused.get("status", {}).get("phase") == "Failed"
                and "CreateContainerConfigError" in waiting
                and host.get("status", {}).get("phase") == "Failed"
                and reasons
            )

        wait_for(
            "the refused, missing-key and host-network pods to settle",
            settled,
            timeout=60,
            describe=lambda: json.dumps([p.get("status") for p in stack.pods()])[:3000],
        )

        # Error answers of the kubelet API, directly and through the API server.
        answers = [
            kubelet_call(stack, "GET", f"/containerLogs/{namespace}/consumer/nope"),
            kubelet_call(stack, "POST", f"/exec/{namespace}/consumer/nope?command=env&output=1"),
            kubelet_call(stack, "POST", f"/exec/{namespace}/missing-key/main?command=env&output=1"),
            kubelet_call(stack, "GET", f"/containerLogs/{namespace}/refused/main"),
        ]
        assert all(status >= 400 for status, _ in answers), answers
        kubectl = stack.plane.kubectl("exec", "-n", namespace, "consumer", "-c", "nope", "--", "env", check=False)
        assert kubectl.returncode != 0
        assert "nope" in kubectl.stderr

        wait_for("spans of the controller and the provider", lambda: traces.spans >= 10, timeout=30)
        events = rest.get(f"/api/v1/namespaces/{namespace}/events")["items"]
        statuses = [p.get("status", {}) for p in stack.pods()]
        backend = stack.provider.state_file.read_text() if stack.provider.state_file else ""
        consumer_uid = stack.must_pod("consumer")["metadata"]["uid"]
        stack.controller.process.stop()
        stack.provider.process.stop()

    # It reached the provider: as the env value, the expanded one, and every envFrom key.
    held = json.loads(backend)["pods"][consumer_uid]
    assert canary in json.dumps(held)
    assert f"prefix-{canary}-suffix" in json.dumps(held)
    controller_log = (tmp_path / f"controller-{node_name}.log").read_text()
    assert '"level": "debug"' in controller_log  # JSON lines, debug on
    places = {
        "controller log": controller_log,
        "provider log": (tmp_path / "mock-provider.log").read_text(),
        "exported spans": traces.exported().decode(errors="replace"),
        "events": json.dumps(events),
        "pod statuses": json.dumps(statuses),
        "kubelet API answers": json.dumps([*answers, pods_answer]),
        "kubectl exec error": kubectl.stdout + kubectl.stderr,
    }
    # Every place was written to, along the paths taken: the test looks where a leak would be.
    assert "Refused" in places["events"]
    assert f"TOKEN={REDACTED}" in places["events"]  # the echoed secret was cut out on its way
    assert "CreateContainerConfigError" in places["pod statuses"]
    assert "consumer" in places["exported spans"]
    assert "the backend said no" in places["provider log"]
    assert "/consumer" in places["controller log"]
    leaks = {where: form for where, text in places.items() for form in forms if form in text}
    assert not leaks, f"the canary secret leaked into: {leaks}"

"""Bad input gets a clear refusal, never a crash, a 5xx or a retry loop.

- The kubelet API, straight to its port: malformed paths and parameters, path traversal, absurd ``tailLines`` and
  ``limitBytes``, unknown pods and containers, callers without credentials or without rights. Each answer is a 4xx
  with a message (or, for an absurd but valid value, the logs), as the kubelet answers.
- Pod specs the controller and the mock provider cannot run: each pod fails at once with a reason and a message
  naming the field, an Event says so, and the provider never created it (so nothing retries it). The ACI and
  Fargate providers' refusals are the table-driven unit tests ``tests/unit/test_aci_mapping.py`` and
  ``tests/unit/test_fargate_mapping.py``, which record their answers to the same report.

Every answer is recorded (``integration.reliability``) for the tables of RELIABILITY.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from integration.reliability import record
from integration.stack_fixtures import Stack, wait_for
from integration.test_kubelet_auth import call
from vk_harness.controlplane import Identity

DECODE = '{"message": "Unable to decode query."}'
INVALID = '{"message": "Invalid request."}'
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Case:
    what: str
    path: str
    status: int
    #: The whole body expected, or None where any non-empty message will do.
    body: str | None = None
    method: str = "GET"
    #: ``admin`` (allowed everything), ``none`` (no client certificate) or ``nobody`` (a user without rights).
    caller: str = "admin"


LOGS = "/containerLogs/{ns}/target/main"
KUBELET_CASES = [
    Case("unknown pod", "/containerLogs/{ns}/nope/main", 404, 'pod "nope" does not exist'),
    Case("unknown container", "/containerLogs/{ns}/target/nope", 404, 'container "nope" not found in pod "target"'),
    Case("unknown pod (exec)", "/exec/{ns}/nope/main?command=id&output=1", 404, method="POST"),
    Case("path too short", "/containerLogs/{ns}/target", 404),
    Case("path too short (namespace only)", "/containerLogs/{ns}", 404),
    Case("path too long", LOGS + "/extra", 404),
    Case("traversal, plain", "/containerLogs/../../etc/passwd", 404),
    Case("traversal, encoded", "/containerLogs/%2e%2e/%2e%2e/etc", 400),
    Case("traversal, encoded upper case", "/containerLogs/{ns}/%2E%2E/main", 400),
    Case("traversal, encoded slashes", "/containerLogs/{ns}/target/..%2F..%2Fetc%2Fpasswd", 400),
    Case("traversal under /pods", "/pods/../../etc/passwd", 404),
    Case("invalid container name", "/containerLogs/{ns}/target/Bad_Name", 400),
    Case("pod name of 300 characters", "/containerLogs/{ns}/" + "a" * 300 + "/main", 400),
    Case("unknown path", "/nope", 404),
    Case("tailLines=abc", LOGS + "?tailLines=abc", 400, DECODE),
    Case("tailLines=1e30", LOGS + "?tailLines=1e30", 400, DECODE),
    Case("tailLines past int64", LOGS + "?tailLines=99999999999999999999", 400, DECODE),
    Case("tailLines=-1", LOGS + "?tailLines=-1", 422, INVALID),
    Case("tailLines=int64 max (valid: every line)", LOGS + f"?tailLines={INT64_MAX}", 200, "hi\n"),
    Case("limitBytes=0", LOGS + "?limitBytes=0", 422, INVALID),
    Case("limitBytes=-5", LOGS + "?limitBytes=-5", 422, INVALID),
    Case("limitBytes past int64", LOGS + "?limitBytes=99999999999999999999", 400, DECODE),
    Case("limitBytes=int64 max (valid: every byte)", LOGS + f"?limitBytes={INT64_MAX}", 200, "hi\n"),
    Case("sinceSeconds=-1", LOGS + "?sinceSeconds=-1", 422, INVALID),
    Case("sinceSeconds and sinceTime", LOGS + "?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", 422, INVALID),
    Case("sinceTime not RFC 3339", LOGS + "?sinceTime=yesterday", 400, DECODE),
    Case("stream=Stderr (feature gate off)", LOGS + "?stream=Stderr", 400, DECODE),
    Case("no credentials", LOGS, 401, "Unauthorized", caller="none"),
    Case("no credentials, /pods", "/pods", 401, "Unauthorized", caller="none"),
    Case(
        "a user without rights",
        LOGS,
        403,
        "Forbidden (user=nobody, verb=get, resource=nodes, subresource(s)=[proxy])",
        caller="nobody",
    ),
    Case(
        "a user without rights, exec",
        "/exec/{ns}/target/main?command=id&output=1",
        403,
        "Forbidden (user=nobody, verb=create, resource=nodes, subresource(s)=[proxy])",
        method="POST",
        caller="nobody",
    ),
]


def test_the_kubelet_api_refuses_bad_requests_with_a_clear_answer(stack: Stack) -> None:
    stack.create_pod("target", command=["sh", "-c", "echo hi; sleep 3600"])
    stack.wait_phase("target", "Running")
    callers: dict[str, Identity | None] = {
        "admin": stack.plane.admin,
        "none": None,
        "nobody": stack.plane.user_identity("nobody"),
    }

    wrong = []
    for case in KUBELET_CASES:
        answer = call(stack, case.path.format(ns=stack.namespace), identity=callers[case.caller], method=case.method)
        record(
            "kubelet-api",
            case=case.what,
            request=f"{case.method} {case.path.format(ns='NS')[:120]}",
            caller=case.caller,
            status=answer.status,
            body=answer.body[:160],
        )
        expected_body = case.body if case.body is not None else answer.body
        if answer.status != case.status or answer.body != expected_body or not answer.body.strip():
            wrong.append(f"{case.what}: {case.method} {case.path} -> {answer.status} {answer.body[:200]!r}")
    assert not wrong, "\n".join(wrong)
    assert stack.controller.process.running()


@dataclass(frozen=True)
class SpecCase:
    what: str
    spec: dict[str, Any]
    #: What refuses it: the controller (any virtual node) or the mock provider.
    refused_by: str
    reason: str
    field: str


def _container(**fields: Any) -> dict[str, Any]:
    return {"containers": [{"name": "main", "image": "busybox:1.36", **fields}]}


SPEC_CASES = [
    SpecCase("host network", {"hostNetwork": True}, "controller", "UnsupportedPodSpec", "spec.hostNetwork"),
    SpecCase("host PID", {"hostPID": True}, "controller", "UnsupportedPodSpec", "spec.hostPID"),
    SpecCase("host IPC", {"hostIPC": True}, "controller", "UnsupportedPodSpec", "spec.hostIPC"),
    SpecCase(
        "privileged container",
        _container(securityContext={"privileged": True}),
        "controller",
        "UnsupportedPodSpec",
        "spec.containers[0].securityContext.privileged",
    ),
    SpecCase(
        "host port",
        _container(ports=[{"containerPort": 80, "hostPort": 8080}]),
        "controller",
        "UnsupportedPodSpec",
        "spec.containers[0].ports[0].hostPort",
    ),
    SpecCase(
        "hostPath volume",
        {"volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]},
        "controller",
        "UnsupportedPodSpec",
        "spec.volumes[0].hostPath",
    ),
    SpecCase(
        "NFS volume",
        {"volumes": [{"name": "n", "nfs": {"server": "nfs.example", "path": "/"}}]},
        "mock",
        "ProviderRejected",
        "spec.volumes[0].nfs",
    ),
    SpecCase(
        "env from status.hostIP",
        _container(env=[{"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}]),
        "mock",
        "ProviderRejected",
        "spec.containers[0].env[0].valueFrom.fieldRef",
    ),
]


@pytest.mark.parametrize("case", SPEC_CASES, ids=[c.what for c in SPEC_CASES])
def test_a_pod_spec_that_cannot_run_is_refused_once_with_a_reason(stack: Stack, case: SpecCase) -> None:
    name = "refused"
    spec = {"restartPolicy": "Always", "automountServiceAccountToken": False, **_container(), **case.spec}
    created = stack.plane.rest.create(
        f"/api/v1/namespaces/{stack.namespace}/pods",
        {"metadata": {"name": name}, "spec": {"nodeName": stack.node, **spec}},
    )
    uid = created["metadata"]["uid"]

    failed = stack.wait_phase(name, "Failed")
    status = failed["status"]
    record(
        "pod-spec",
        provider="mock" if case.refused_by == "mock" else "any (controller)",
        case=case.what,
        reason=status.get("reason", ""),
        message=status.get("message", ""),
        test=f"tests/integration/test_bad_input.py::test_a_pod_spec_that_cannot_run_is_refused_once_with_a_reason[{case.what}]",
    )
    assert status["reason"] == case.reason
    assert case.field in status["message"]
    wait_for("the Event", lambda: [e for e in stack.events_for(name) if e["reason"] == case.reason], timeout=15)
    assert uid not in stack.backend()["creates"], "a refused pod was created on the provider"
    assert stack.must_pod(name)["status"]["phase"] == "Failed", "a refusal is final"

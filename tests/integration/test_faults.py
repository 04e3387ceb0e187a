"""The fault suite: a burst of pods, a fault injected in its middle, recovery, then the same checks every time.

Each test creates half of a burst, injects its fault, creates the other half while the fault lasts (where the API
server is up to take them), ends the fault, and then checks that every pod Runs, the provider's backend holds
exactly the API's pods (no orphan, none missing) and created each exactly once, and the Node is Ready again.
While the fault lasts the Node's Ready condition must say so, for the reason the controller reports.

Recovery times are reported (``reliability.record``, rendered into RELIABILITY.md by
``bench/reliability_report.py``), never asserted; waits are bounded by the configured intervals.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration.reliability import Clock, record
from integration.stack_fixtures import Stack, controller_stack, running_stack, wait_for, wait_node_ready
from vk_harness import ControlPlane
from vk_harness.processes import Process, free_port
from vk_harness.stack import ControllerIntervals, ProviderProcess

HALF = 40
SETTLE_TIMEOUT = 120.0
LYING_PROVIDER = Path(__file__).with_name("lying_provider.py")


# -- the burst and the checks -----------------------------------------------------------------------------------


def create_burst(stack: Stack, prefix: str, count: int = HALF, **spec: Any) -> list[str]:
    names = [f"{prefix}-{i}" for i in range(count)]
    for name in names:
        stack.create_pod(name, automountServiceAccountToken=False, **spec)
    return names


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def wait_all_running(stack: Stack, count: int, *, finished: int = 0) -> list[dict[str, Any]]:
    """The ``count`` running pods, once every pod but ``finished`` ones Runs and is Ready."""

    def probe() -> list[dict[str, Any]] | None:
        pods = stack.pods()
        running = [p for p in pods if p["status"].get("phase") == "Running" and _ready(p)]
        return running if len(pods) == count + finished and len(running) == count else None

    def describe() -> str:
        pods = stack.pods()
        odd = {p["metadata"]["name"]: p["status"] for p in pods if p["status"].get("phase") != "Running"}
        return f"{len(pods)} pods; not running: {json.dumps(odd)[:3000]}"

    return wait_for(f"{count} pods to Run", probe, timeout=SETTLE_TIMEOUT, interval=0.5, describe=describe)


def exactly_once(stack: Stack, pods: list[dict[str, Any]]) -> dict[str, int]:
    """The backend holds exactly these pods, each created once (and no UID ever twice); the counts checked."""
    uids = {p["metadata"]["uid"] for p in pods}
    backend = stack.backend_with_exactly(uids)
    creates: dict[str, int] = backend["creates"]
    twice = sorted(uid for uid, count in creates.items() if count != 1)
    assert not twice, f"created more than once: {twice}"
    assert uids <= set(creates), "a running pod the mock never counted"
    return {"pods": len(uids), "creates": sum(creates.values()), "created_twice": 0, "orphans": 0, "missing": 0}


def node_not_ready(stack: Stack, timeout: float) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        condition = stack.node_condition()
        return condition if condition.get("status") == "False" else None

    condition: dict[str, Any] = wait_for(
        "the node to go NotReady",
        probe,
        timeout=timeout,
        describe=lambda: json.dumps(stack.node_condition()),
    )
    return condition


def detection_bound(intervals: ControllerIntervals) -> float:
    """How long the controller may take to notice a provider that stopped answering, with room for a busy host."""
    return intervals.provider_ping_interval + intervals.provider_ping_timeout + intervals.node_status_update_frequency


def lease_renew_time(stack: Stack) -> str:
    path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{stack.node}"
    return str(stack.plane.rest.get(path)["spec"]["renewTime"])


# -- the provider -----------------------------------------------------------------------------------------------


def test_provider_killed_mid_burst_and_restarted(stack: Stack) -> None:
    first = create_burst(stack, "before")

    stack.provider.process.kill()
    clock = Clock()
    condition = node_not_ready(stack, detection_bound(stack.intervals))
    clock.mark("node_not_ready")
    assert condition["reason"] == "ProviderUnreachable"
    assert stack.provider.address in condition["message"]
    second = create_burst(stack, "during")
    assert stack.node_condition()["status"] == "False", "the node claimed Ready while its provider was dead"

    clock.mark("provider_restarted")
    stack.restart_provider()
    wait_node_ready(stack)
    clock.mark("node_ready")
    pods = wait_all_running(stack, len(first) + len(second))
    counts = exactly_once(stack, pods)
    clock.mark("all_running")

    record("fault", fault="provider killed (SIGKILL) mid-burst, restarted", marks=clock.marks, counts=counts)


def test_provider_frozen_past_every_deadline_then_resumed(stack: Stack) -> None:
    first = create_burst(stack, "before")

    stack.provider.process.signal(signal.SIGSTOP)
    clock = Clock()
    try:
        condition = node_not_ready(stack, detection_bound(stack.intervals))
        clock.mark("node_not_ready")
        assert condition["reason"] == "ProviderUnreachable"
        second = create_burst(stack, "during")
        # Frozen past every deadline the controller has: each call and each ping must have timed out at least once.
        frozen_until = time.monotonic() + stack.intervals.provider_call_timeout + stack.intervals.provider_ping_timeout
        while time.monotonic() < frozen_until:
            assert stack.node_condition()["status"] == "False", "the node claimed Ready while its provider was frozen"
            time.sleep(stack.intervals.provider_ping_interval)
    finally:
        stack.provider.process.signal(signal.SIGCONT)
    clock.mark("provider_resumed")

    wait_node_ready(stack)
    clock.mark("node_ready")
    pods = wait_all_running(stack, len(first) + len(second))
    counts = exactly_once(stack, pods)
    clock.mark("all_running")
    assert stack.provider.process.running()

    record("fault", fault="provider frozen (SIGSTOP) past every deadline, resumed", marks=clock.marks, counts=counts)


# -- the controller ---------------------------------------------------------------------------------------------


def test_controller_killed_mid_burst_and_restarted(stack: Stack) -> None:
    first = create_burst(stack, "before")

    stack.controller.process.kill()
    clock = Clock()
    second = create_burst(stack, "during")
    # Nobody renews the lease now (the node lifecycle controller would mark the node Unknown once it expires).
    renewed_before = lease_renew_time(stack)

    clock.mark("controller_restarted")
    stack.restart_controller()
    wait_for(
        "the lease to be renewed by the new controller",
        lambda: lease_renew_time(stack) != renewed_before,
        timeout=30,
        describe=lambda: stack.controller.process.log_tail(),
    )
    wait_node_ready(stack)
    clock.mark("node_ready")
    pods = wait_all_running(stack, len(first) + len(second))
    counts = exactly_once(stack, pods)
    clock.mark("all_running")

    record("fault", fault="controller killed (SIGKILL) mid-burst, restarted", marks=clock.marks, counts=counts)


# -- the control plane ------------------------------------------------------------------------------------------


@pytest.fixture
def own_stack(
    isolated_control_plane: Callable[..., ControlPlane], tmp_path: Path, node_name: str, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """The stack on a control plane of the test's own (the test restarts or compacts it); apiserver flags come
    from ``@pytest.mark.parametrize("apiserver_args", ...)``-style indirect params or none."""
    args: tuple[str, ...] = getattr(request, "param", ())
    plane = isolated_control_plane(extra_apiserver_args=args)
    namespace = plane.create_namespace("faults")
    with running_stack(plane, tmp_path, namespace, node_name) as running:
        yield running


def apiserver_metric(plane: ControlPlane, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``, from the API server's /metrics."""
    text = plane.kubectl("get", "--raw", "/metrics").stdout
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        selector, _, value = line.rpartition(" ")
        if all(f'{key}="{wanted}"' in selector for key, wanted in labels.items()):
            total += float(value)
    return total


def test_apiserver_restarted_watches_resume_without_a_relist_storm(own_stack: Stack) -> None:
    stack = own_stack
    first = create_burst(stack, "before")
    renewed_before = lease_renew_time(stack)

    clock = Clock()
    stack.plane.restart_apiserver()
    clock.mark("apiserver_back")
    second = create_burst(stack, "after")
    pods = wait_all_running(stack, len(first) + len(second))
    counts = exactly_once(stack, pods)
    clock.mark("all_running")
    wait_for("the lease to be renewed", lambda: lease_renew_time(stack) != renewed_before, timeout=30)
    wait_node_ready(stack)
    clock.mark("lease_and_node_ready")

    # The restarted API server counts from zero. The controller's pod informer may relist once (if its
    # resourceVersion is older than the new watch cache), never more; nothing else lists every pod. (Services are
    # also listed by the API server's own controllers as it starts, so their count is reported, not asserted.)
    def lists(resource: str) -> int:
        total = apiserver_metric(
            stack.plane, "apiserver_request_total", verb="LIST", resource=resource, scope="cluster", code="200"
        )
        return int(total)

    pod_lists, service_lists = lists("pods"), lists("services")
    pod_watches = apiserver_metric(
        stack.plane, "apiserver_longrunning_requests", verb="WATCH", resource="pods", scope="cluster"
    )
    assert pod_lists <= 1, f"{pod_lists} LISTs of the node's pods after one restart"
    assert pod_watches >= 1, "the controller's pod watch did not resume"
    counts |= {"pod_lists_after_restart": pod_lists, "service_lists_after_restart_all_clients": service_lists}

    record("fault", fault="kube-apiserver restarted mid-burst", marks=clock.marks, counts=counts)


def _etcd(plane: ControlPlane, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """etcd's gRPC gateway (JSON over HTTP on the client URL): etcdctl is not built, the gateway is always on."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{plane.etcd_port}/v3/{method}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def compact_etcd(plane: ControlPlane) -> int:
    """Compact etcd at its current revision; the revision."""
    key = base64.b64encode(b"/registry/").decode()
    end = base64.b64encode(b"/registry0").decode()
    latest = _etcd(plane, "kv/range", {"key": key, "range_end": end, "limit": 1, "keys_only": True})
    revision = int(latest["header"]["revision"])
    _etcd(plane, "kv/compaction", {"revision": revision, "physical": True})
    return revision


@pytest.mark.parametrize("own_stack", [("--watch-cache=false",)], indirect=True, ids=["no-watch-cache"])
def test_etcd_compaction_makes_watches_410_and_the_informer_relists(own_stack: Stack) -> None:
    """Without the API server's watch cache, a watch resumed from a compacted revision gets 410 Gone from etcd
    itself. The controller is paused, the API server restarts (ending its watches), pods are created and deleted
    and etcd is compacted past all of it; resumed, the controller's watch gets 410, the informer relists and
    misses nothing: new pods run, deleted ones leave the provider."""
    stack = own_stack
    first = create_burst(stack, "before")
    wait_all_running(stack, len(first))

    stack.controller.process.signal(signal.SIGSTOP)
    clock = Clock()
    try:
        # The restart closes the paused controller's watches: what happens next reaches it only by a new watch.
        stack.plane.restart_apiserver()
        clock.mark("apiserver_back")
        second = create_burst(stack, "during")
        removed = first[: HALF // 4]
        for name in removed:
            stack.plane.kubectl("delete", "pod", name, "-n", stack.namespace, "--force", "--grace-period=0")
        revision = compact_etcd(stack.plane)
        clock.mark("compacted")
    finally:
        stack.controller.process.signal(signal.SIGCONT)

    expired = wait_for(
        "the pod informer to relist on 410 Gone",
        lambda: re.findall(r"/api/v1/pods: resourceVersion (\d+) expired, relisting", _log(stack)),
        timeout=30,
        describe=lambda: stack.controller.process.log_tail(),
    )
    clock.mark("relisted")
    assert int(expired[0]) < revision, "the informer resumed from a revision that was not compacted"
    pods = wait_all_running(stack, len(first) + len(second) - len(removed))
    counts = exactly_once(stack, pods)
    clock.mark("all_running")
    counts |= {"deleted_while_paused": len(removed), "relists_on_410": len(expired)}

    record("fault", fault="etcd compacted under open watches (410 Gone)", marks=clock.marks, counts=counts)


def _log(stack: Stack) -> str:
    return stack.controller.process.log_path.read_text(errors="replace")


# -- a provider that lies ---------------------------------------------------------------------------------------


@pytest.fixture
def lying_stack(control_plane: ControlPlane, tmp_path: Path, namespace: str, node_name: str) -> Iterator[Stack]:
    """The stack with ``lying_provider.py`` (the mock, lying on purpose) in place of the mock."""
    address = f"127.0.0.1:{free_port()}"
    state = tmp_path / "lying-backend.json"
    process = Process(
        "lying-provider",
        [sys.executable, str(LYING_PROVIDER), "--listen", address, "--state-file", str(state)],
        log_path=tmp_path / "lying-provider.log",
    )
    process.start()
    provider = ProviderProcess(process=process, address=address, state_file=state)
    try:
        provider.wait_ready()
        with controller_stack(control_plane, tmp_path, namespace, node_name, provider) as running:
            yield running
    finally:
        process.stop()


def test_malformed_and_contradictory_statuses_are_survived(lying_stack: Stack) -> None:
    stack = lying_stack
    pid = stack.controller.process.pid
    clock = Clock()
    honest = create_burst(stack, "honest", HALF - 3)
    stack.create_pod("ghostly", annotations={"lie": "ghost"})
    stack.create_pod("huge", annotations={"lie": "oversized"})
    stack.create_pod(
        "lazarus", command=["sh", "-c", "exit 0"], restart_policy="Never", annotations={"lie": "resurrect"}
    )

    # Unknown pod: the ghost record is an orphan on the provider, and the controller deletes it there.
    wait_for(
        "the ghost to be deleted on the provider",
        lambda: "deleted" in stack.backend().get("ghosts", {}).values(),
        timeout=30,
        describe=lambda: json.dumps(stack.backend().get("ghosts")),
    )
    assert stack.pod("ghostly-ghost") is None, "a pod nobody created must not appear"
    clock.mark("ghost_deleted")

    # Impossible transition: Succeeded, then "Running" again. The phase stays Succeeded and the pod, which must
    # not run, is stopped on the provider.
    lazarus = stack.wait_phase("lazarus", "Succeeded")
    wait_for("the resurrection lie", lambda: "resurrect" in stack.backend().get("lies", {}).values(), timeout=30)
    wait_for(
        "the controller to stop the resurrected pod on the provider",
        lambda: lazarus["metadata"]["uid"] not in stack.backend()["pods"],
        timeout=30,
    )
    assert stack.must_pod("lazarus")["status"]["phase"] == "Succeeded"
    clock.mark("resurrection_refused")

    # Oversized messages: clamped to the kubelet's 4 KiB, and the status is still written.
    huge = stack.wait_ready_pod("huge")
    assert huge["status"]["reason"].endswith("[truncated]")
    assert len(huge["status"]["reason"].encode()) <= 128
    assert huge["status"]["message"].endswith("[truncated]")
    assert 0 < len(huge["status"]["message"].encode()) <= 4096
    clock.mark("oversized_clamped")

    running = wait_all_running(stack, len(honest) + 2, finished=1)  # all but lazarus, which Succeeded
    counts = exactly_once(stack, running)
    clock.mark("all_running")
    assert stack.controller.process.pid == pid
    assert stack.controller.process.running(), "the controller crashed"
    assert stack.backend()["creates"][lazarus["metadata"]["uid"]] == 1
    counts |= {"ghosts_deleted": 1, "resurrections_refused": 1, "oversized_clamped": 1}

    record("fault", fault="provider statuses malformed or contradictory", marks=clock.marks, counts=counts)

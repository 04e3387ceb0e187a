"""``/stats/summary`` and ``/metrics/resource``: well-formed, and consistent with each other and with the pods that
run.

They are fetched as the API server fetches them, with its kubelet-client certificate, straight from the kubelet
port on loopback. The API server's node proxy refuses loopback addresses: ``test_kubelet_node_proxy.py`` runs the
controller in a network namespace of its own to test that hop (``kubectl get --raw /api/v1/nodes/<node>/proxy/...``).
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
from typing import Any

from integration.stack_fixtures import Stack

SAMPLE = re.compile(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)(?: (\d+))?$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def raw(stack: Stack, path: str) -> str:
    """GET ``path`` from the kubelet API as the API server does (its kubelet-client certificate)."""
    client = stack.plane.kubelet_client
    context = ssl.create_default_context(cafile=str(stack.plane.ca.cert_path))
    context.load_cert_chain(str(client.cert_path), str(client.key_path))
    connection = http.client.HTTPSConnection(
        stack.controller.node_address, stack.controller.kubelet_port, context=context, timeout=20
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        connection.close()
    assert response.status == 200, f"GET {path}: {response.status} {body}"
    return body


def start_pods(stack: Stack) -> None:
    resources = {"requests": {"cpu": "500m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "pair"},
        "spec": {
            "nodeName": stack.node,
            "containers": [
                {"name": "web", "image": "nginx:1.27", "resources": resources},
                {"name": "sidecar", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"]},
            ],
        },
    }
    stack.plane.rest.create(f"/api/v1/namespaces/{stack.namespace}/pods", body)
    stack.create_pod("single", command=["sh", "-c", "sleep 3600"])
    stack.create_pod("finished", command=["sh", "-c", "exit 0"], restart_policy="Never")
    stack.wait_phase("pair", "Running")
    stack.wait_phase("single", "Running")
    stack.wait_phase("finished", "Succeeded")


def parse_metrics(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float, int | None]]]:
    types: dict[str, str] = {}
    samples = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line.startswith("# HELP "):
            assert line.split(" ", 3)[3].startswith(("[STABLE] ", "[ALPHA] ")), line
        elif line:
            match = SAMPLE.match(line)
            assert match, f"not a Prometheus sample: {line!r}"
            name, labels, value, stamp = match.groups()
            pairs = dict(re.findall(r'([a-z]+)="([^"]*)"', labels or ""))
            samples.append((name, pairs, float(value), int(stamp) if stamp else None))
    return types, samples


def test_stats_summary_describes_every_running_container(stack: Stack) -> None:
    start_pods(stack)

    summary = json.loads(raw(stack, "/stats/summary"))

    node = summary["node"]
    assert node["nodeName"] == stack.node
    assert TIME.match(node["startTime"])
    assert node["cpu"]["usageCoreNanoSeconds"] > 0
    assert TIME.match(node["cpu"]["time"])
    pods = {(p["podRef"]["namespace"], p["podRef"]["name"]): p for p in summary["pods"]}
    assert set(pods) == {(stack.namespace, "pair"), (stack.namespace, "single")}, "only pods that run have usage"
    for (_, name), pod in pods.items():
        assert pod["podRef"]["uid"] == stack.must_pod(name)["metadata"]["uid"]
        assert TIME.match(pod["startTime"])
        containers = {c["name"]: c for c in pod["containers"]}
        expected = {"web", "sidecar"} if name == "pair" else {"main"}
        assert set(containers) == expected
        for container in containers.values():
            assert TIME.match(container["startTime"])
            assert container["cpu"]["usageNanoCores"] > 0
            assert container["cpu"]["usageCoreNanoSeconds"] >= 0
            assert container["memory"]["workingSetBytes"] > 0
        assert pod["memory"]["workingSetBytes"] == sum(c["memory"]["workingSetBytes"] for c in containers.values())
        assert pod["cpu"]["usageNanoCores"] == sum(c["cpu"]["usageNanoCores"] for c in containers.values())
    web = {c["name"]: c for c in pods[(stack.namespace, "pair")]["containers"]}["web"]
    assert web["cpu"]["usageNanoCores"] == 50_000_000, "the mock reports 10% of the 500m request"
    assert web["memory"]["workingSetBytes"] == 32 * 1024 * 1024
    assert web["memory"]["availableBytes"] == 96 * 1024 * 1024
    assert (
        "availableBytes"
        not in {c["name"]: c for c in pods[(stack.namespace, "single")]["containers"]}["main"]["memory"]
    ), "no limit: nothing available is invented"
    assert node["memory"]["workingSetBytes"] == sum(p["memory"]["workingSetBytes"] for p in pods.values())


def test_only_cpu_and_memory_leaves_the_rest_out(stack: Stack) -> None:
    start_pods(stack)

    summary = json.loads(raw(stack, "/stats/summary?only_cpu_and_memory=true"))

    assert set(summary["node"]) <= {"nodeName", "startTime", "cpu", "memory", "systemContainers", "swap"}
    for pod in summary["pods"]:
        assert set(pod) <= {"podRef", "startTime", "containers", "cpu", "memory", "swap"}
        for container in pod["containers"]:
            assert set(container) <= {"name", "startTime", "cpu", "memory", "swap"}


def test_resource_metrics_match_the_summary(stack: Stack) -> None:
    start_pods(stack)

    before = time.time()
    types, samples = parse_metrics(raw(stack, "/metrics/resource"))
    summary = json.loads(raw(stack, "/stats/summary"))

    assert types == {
        "container_cpu_usage_seconds_total": "counter",
        "container_memory_working_set_bytes": "gauge",
        "container_start_time_seconds": "gauge",
        "node_cpu_usage_seconds_total": "counter",
        "node_memory_working_set_bytes": "gauge",
        "pod_cpu_usage_seconds_total": "counter",
        "pod_memory_working_set_bytes": "gauge",
        "resource_scrape_error": "gauge",
        "scrape_error": "gauge",
    }
    by_name: dict[str, list[tuple[dict[str, str], float, int | None]]] = {}
    for name, labels, value, stamp in samples:
        by_name.setdefault(name, []).append((labels, value, stamp))
    assert by_name["resource_scrape_error"] == [({}, 0.0, None)]
    ((_, node_memory, node_stamp),) = by_name["node_memory_working_set_bytes"]
    assert node_memory == summary["node"]["memory"]["workingSetBytes"]
    assert node_stamp is not None
    assert abs(node_stamp / 1000 - before) < 60

    expected: dict[tuple[str, str, str], dict[str, Any]] = {}
    for pod in summary["pods"]:
        for container in pod["containers"]:
            expected[(pod["podRef"]["namespace"], pod["podRef"]["name"], container["name"])] = container

    def keyed(name: str) -> dict[tuple[str, str, str], tuple[float, int | None]]:
        return {
            (labels["namespace"], labels["pod"], labels["container"]): (value, stamp)
            for labels, value, stamp in by_name[name]
        }

    memory = keyed("container_memory_working_set_bytes")
    cpu = keyed("container_cpu_usage_seconds_total")
    started = keyed("container_start_time_seconds")
    assert set(memory) == set(cpu) == set(started) == set(expected)
    for key, container in expected.items():
        assert memory[key][0] == container["memory"]["workingSetBytes"]
        assert memory[key][1] is not None, "usage samples carry their sample time"
        assert cpu[key][1] is not None
        assert 0 <= cpu[key][0] <= container["cpu"]["usageCoreNanoSeconds"] / 1e9, "a counter only grows"
        assert started[key][1] is None, "start times carry no timestamp"
        assert abs(started[key][0] - before) < 120
    pod_memory = {
        (labels["namespace"], labels["pod"]): value for labels, value, _ in by_name["pod_memory_working_set_bytes"]
    }
    assert pod_memory == {
        (p["podRef"]["namespace"], p["podRef"]["name"]): p["memory"]["workingSetBytes"] for p in summary["pods"]
    }
    assert {(labels["namespace"], labels["pod"]) for labels, _, _ in by_name["pod_cpu_usage_seconds_total"]} == set(
        pod_memory
    )

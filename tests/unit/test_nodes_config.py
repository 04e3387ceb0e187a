"""Several nodes in one process: the nodes file over the command line's flags, the per-node series in one
``/metrics`` exposition, and the per-node checks of the plain health endpoint."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from vk_controller.kubeletapi.health import health_app
from vk_controller.metrics import Metrics, NodesExposition
from vk_controller.settings import parse, parse_nodes

NODES = """
nodes:
  - nodename: west
    provider-address: 127.0.0.1:50051
    kubeconfig: west.kubeconfig
    kubelet-port: 10250
    node-labels: {topology.kubernetes.io/region: west, tier: gold}
  - nodename: east
    provider-address: unix:/run/east.sock
    kubelet-port: 10251
    pod-sync-workers: 3
    disable-taint: true
    cluster-dns: [10.0.0.10, 10.0.0.11]
"""


def write(tmp_path: Path, text: str, name: str = "nodes.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_without_a_nodes_file_the_command_line_is_the_only_node() -> None:
    argv = ["--nodename=solo", "--provider-address=127.0.0.1:1", "--pod-sync-workers=4"]

    assert parse_nodes(argv) == [parse(argv)]


def test_each_entry_sets_its_flags_over_the_command_lines(tmp_path: Path) -> None:
    west, east = parse_nodes(
        [
            f"--nodes-config={write(tmp_path, NODES)}",
            "--kubeconfig=shared.kubeconfig",
            "--node-lease-duration=7",
            "--metrics-port=9100",
            "--log-level=debug",
        ]
    )

    assert (west.node_name, west.provider_address, west.kubeconfig) == ("west", "127.0.0.1:50051", "west.kubeconfig")
    assert west.node_labels == {"topology.kubernetes.io/region": "west", "tier": "gold"}
    assert (west.pod_sync_workers, west.disable_taint, west.cluster_dns) == (10, False, ())
    assert (east.node_name, east.provider_address, east.kubeconfig) == (
        "east",
        "unix:/run/east.sock",
        "shared.kubeconfig",
    )
    assert (east.kubelet_port, east.pod_sync_workers, east.disable_taint) == (10251, 3, True)
    assert east.cluster_dns == ("10.0.0.10", "10.0.0.11")
    for node in (west, east):
        assert (node.lease_duration, node.metrics_port, node.log_level) == (7, 9100, "debug")


def test_json_is_accepted_and_a_false_boolean_overrides_the_command_line(tmp_path: Path) -> None:
    entries = [
        {"nodename": "one", "provider-address": "127.0.0.1:1", "kubelet-port": 1, "disable-taint": False},
        {"nodename": "two", "provider-address": "127.0.0.1:2", "kubelet-port": 2},
    ]
    path = write(tmp_path, json.dumps({"nodes": entries}), "nodes.json")

    one, two = parse_nodes([f"--nodes-config={path}", "--disable-taint"])

    assert (one.disable_taint, two.disable_taint) == (False, True)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("nodes: []", "non-empty list under 'nodes'"),
        ("- nodename: x", "non-empty list under 'nodes'"),
        ("nodes: [a]", "nodes[0] is not a mapping"),
        ("nodes: [{nodename: x, metrics-port: 1}]", "'metrics-port' configures the process"),
        ("nodes: [{nodename: x, provider-adress: y}]", "unknown flag 'provider-adress'"),
        ("nodes: [{nodename: x, provider-address: y}, {nodename: z, kubelet-port: many}]", "nodes[1]"),
        ("nodes: [{nodename: x}]", "--provider-address (or VK_PROVIDER_ADDRESS) is required"),
        (
            "nodes: [{nodename: x, provider-address: y}, {nodename: x, provider-address: y, kubelet-port: 2}]",
            "two nodes have the same nodename",
        ),
        ("nodes: [{nodename: x, provider-address: y}, {nodename: z, provider-address: y}]", "same kubelet-address"),
    ],
)
def test_a_bad_nodes_file_is_refused_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entries: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_nodes([f"--nodes-config={write(tmp_path, entries)}"])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_one_exposition_labels_every_series_with_its_node() -> None:
    west, east = Metrics(), Metrics()
    west.provider_call("CreatePod", "OK", 0.01)
    east.provider_call("CreatePod", "UNAVAILABLE", 0.01)
    east.watch_pods(lambda: [{"status": {"phase": "Running"}}])

    families = {
        family.name: family
        for family in text_string_to_metric_families(
            NodesExposition(lambda: {"west": west, "east": east}, labelled=True).exposition().decode()
        )
    }

    errors = {
        (sample.labels["node"], sample.labels["code"]): sample.value
        for sample in families["vk_provider_rpc_errors"].samples
        if sample.name == "vk_provider_rpc_errors_total"
    }
    assert errors == {("east", "UNAVAILABLE"): 1.0}
    running = {s.labels["node"]: s.value for s in families["vk_pods"].samples if s.labels["phase"] == "Running"}
    assert running == {"east": 1.0}, "only east watches pods"
    calls = {
        (s.labels["node"], s.labels["code"])
        for s in families["vk_provider_rpc_duration_seconds"].samples
        if s.name.endswith("_count")
    }
    assert calls == {("west", "OK"), ("east", "UNAVAILABLE")}


def test_a_single_node_exposition_is_unchanged() -> None:
    metrics = Metrics()
    metrics.provider_call("CreatePod", "OK", 0.01)

    assert NodesExposition(lambda: {"solo": metrics}, labelled=False).exposition() == metrics.exposition()


def test_the_plain_health_endpoint_reports_each_node() -> None:
    checks: dict[str, str | None] = {"node/west": None, "node/east": None}

    async def get(path: str) -> tuple[int, str]:
        async with TestClient(TestServer(health_app(lambda: checks))) as client:
            response = await client.get(path)
            return response.status, await response.text()

    assert asyncio.run(get("/healthz")) == (200, "ok")
    assert asyncio.run(get("/healthz?verbose")) == (
        200,
        "[+]node/west ok\n[+]node/east ok\nhealthz check passed\n",
    )
    checks["node/east"] = "OSError: address already in use"
    assert asyncio.run(get("/healthz")) == (
        500,
        "[+]node/west ok\n[-]node/east failed: OSError: address already in use\nhealthz check failed\n",
    )

"""/stats/summary and /metrics/resource from a provider's report: missing stays missing, shapes are the kubelet's,
rates come only from two real counters."""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from virtualkubelet.provider.v1 import pod_pb2, stats_pb2
from vk_controller.kubeletapi.cpurate import CpuRates
from vk_controller.kubeletapi.resource_metrics import go_float, render
from vk_controller.kubeletapi.summary import summary_json
from vk_controller.provider.stats import (
    ContainerUsage,
    Cpu,
    Memory,
    NodeUsage,
    PodUsage,
    StatsSummary,
    summary_from,
)

S = 1_000_000_000
T = 1_700_000_000


def ts(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * S))
    return stamp


def report() -> stats_pb2.GetStatsSummaryResponse:
    response = stats_pb2.GetStatsSummaryResponse()
    response.node.start_time.CopyFrom(ts(T - 100))
    response.node.cpu.CopyFrom(stats_pb2.CPUStats(time=ts(T), usage_core_nano_seconds=5 * S))
    pod = response.pods.add(pod=pod_pb2.PodRef(uid="u1", namespace="ns", name="web"), start_time=ts(T - 50))
    pod.containers.add(
        name="app",
        start_time=ts(T - 40),
        cpu=stats_pb2.CPUStats(time=ts(T), usage_nano_cores=250_000_000, usage_core_nano_seconds=2 * S),
        memory=stats_pb2.MemoryStats(time=ts(T), working_set_bytes=1_200_000, usage_bytes=2_000_000),
    )
    pod.containers.add(name="quiet", memory=stats_pb2.MemoryStats(working_set_bytes=0))
    pod.memory.CopyFrom(stats_pb2.MemoryStats(time=ts(T), working_set_bytes=1_200_000))
    pod.volumes.add(name="data", fs=stats_pb2.FsStats(time=ts(T), used_bytes=10))
    pod.volumes.add(name="unmeasured")
    pod.network.CopyFrom(
        stats_pb2.NetworkStats(time=ts(T), interfaces=[stats_pb2.InterfaceStats(name="eth0", rx_bytes=7)])
    )
    pod.process_count = 3
    return response


def test_the_adapter_keeps_missing_values_missing() -> None:
    summary = summary_from(report(), received_ns=T * S + 5)

    assert summary.node is not None
    assert summary.node.memory is None
    assert summary.node.cpu == Cpu(time_ns=T * S, usage_core_nano_seconds=5 * S)
    pod = summary.pods[0]
    quiet = pod.containers[1]
    assert quiet.cpu is None
    assert quiet.start_ns is None
    assert quiet.memory == Memory(time_ns=T * S + 5, working_set_bytes=0), "no sample time: the time received"
    assert pod.cpu is None
    assert pod.process_count == 3
    assert summary_from(stats_pb2.GetStatsSummaryResponse(), received_ns=0) == StatsSummary(node=None, pods=())


def test_summary_json_has_the_kubelets_shape() -> None:
    pods = {"u1": {"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "claim"}}]}}}
    out = summary_json("vk-1", summary_from(report(), received_ns=T * S), pods=pods)

    node = out["node"]
    assert node == {
        "nodeName": "vk-1",
        "startTime": "2023-11-14T22:11:40Z",
        "cpu": {"time": "2023-11-14T22:13:20Z", "usageCoreNanoSeconds": 5 * S},
    }
    (pod,) = out["pods"]
    assert pod["podRef"] == {"name": "web", "namespace": "ns", "uid": "u1"}
    assert pod["containers"][0] == {
        "name": "app",
        "startTime": "2023-11-14T22:12:40Z",
        "cpu": {"time": "2023-11-14T22:13:20Z", "usageNanoCores": 250_000_000, "usageCoreNanoSeconds": 2 * S},
        "memory": {"time": "2023-11-14T22:13:20Z", "usageBytes": 2_000_000, "workingSetBytes": 1_200_000},
    }
    assert pod["containers"][1] == {
        "name": "quiet",
        "startTime": None,
        "memory": {"time": "2023-11-14T22:13:20Z", "workingSetBytes": 0},
    }
    assert "cpu" not in pod
    assert pod["volume"] == [
        {
            "name": "data",
            "time": "2023-11-14T22:13:20Z",
            "usedBytes": 10,
            "pvcRef": {"name": "claim", "namespace": "ns"},
        }
    ]
    assert pod["network"] == {
        "time": "2023-11-14T22:13:20Z",
        "name": "eth0",
        "rxBytes": 7,
        "interfaces": [{"name": "eth0", "rxBytes": 7}],
    }
    assert pod["process_stats"] == {"process_count": 3}
    assert summary_json("vk-1", StatsSummary(node=None, pods=())) == {
        "node": {"nodeName": "vk-1", "startTime": None},
        "pods": [],
    }


def test_only_cpu_and_memory() -> None:
    out = summary_json("vk-1", summary_from(report(), received_ns=T * S), only_cpu_and_memory=True)

    assert set(out["pods"][0]) == {"podRef", "startTime", "containers", "memory"}


def test_go_float_formatting() -> None:
    cases = {1.0: "1", 0.0: "0", 1_200_000.0: "1.2e+06", 123456.0: "123456", 0.000123: "0.000123", 1.5e-05: "1.5e-05"}
    assert {value: go_float(value) for value in cases} == cases
    assert go_float(1.7e9) == "1.7e+09"
    assert go_float(-2.5) == "-2.5"


def test_resource_metrics_omit_what_is_missing_and_stamp_samples() -> None:
    text = render(summary_from(report(), received_ns=T * S), include_pods=True)

    lines = text.splitlines()
    assert "# TYPE container_cpu_usage_seconds_total counter" in lines
    assert 'container_cpu_usage_seconds_total{container="app",namespace="ns",pod="web"} 2 1700000000000' in lines
    assert 'container_memory_working_set_bytes{container="app",namespace="ns",pod="web"} 1.2e+06 1700000000000' in lines
    assert 'container_start_time_seconds{container="app",namespace="ns",pod="web"} 1.69999996e+09' in lines
    assert 'container_memory_working_set_bytes{container="quiet",namespace="ns",pod="web"} 0 1700000000000' in lines
    assert not any(line.startswith('container_cpu_usage_seconds_total{container="quiet"') for line in lines)
    assert not any('container="quiet"' in line for line in lines if line.startswith("container_start_time"))
    assert "node_cpu_usage_seconds_total 5 1700000000000" in lines
    assert not any(line.startswith(("node_memory", "pod_cpu", "# HELP pod_cpu")) for line in lines)
    assert 'pod_memory_working_set_bytes{namespace="ns",pod="web"} 1.2e+06 1700000000000' in lines
    assert "resource_scrape_error 0" in lines
    assert "scrape_error 0" in lines
    assert text.endswith("\n")


def test_resource_metrics_without_the_metrics_capability_or_a_summary() -> None:
    node_only = render(summary_from(report(), received_ns=T * S), include_pods=False)
    assert "container_" not in node_only
    assert "pod_" not in node_only
    assert "node_cpu_usage_seconds_total 5 1700000000000" in node_only

    failed = render(None, include_pods=True).splitlines()
    assert [line for line in failed if not line.startswith("#")] == ["resource_scrape_error 1", "scrape_error 1"]


def test_cpu_rates_come_only_from_two_samples_of_the_same_instance() -> None:
    def summary(at: int, used: int, start: int = 1) -> StatsSummary:
        cpu = Cpu(time_ns=at * S, usage_core_nano_seconds=used)
        container = ContainerUsage(name="c", start_ns=start, cpu=cpu)
        return StatsSummary(
            node=NodeUsage(cpu=cpu), pods=(PodUsage(uid="u", namespace="n", name="p", containers=(container,)),)
        )

    rates = CpuRates()
    first = rates.fill(summary(10, 1 * S))
    assert first.pods[0].containers[0].cpu == Cpu(time_ns=10 * S, usage_core_nano_seconds=1 * S)
    second = rates.fill(summary(12, 2 * S))
    assert second.node is not None
    assert second.node.cpu is not None
    assert second.node.cpu.usage_nano_cores == S // 2
    assert second.pods[0].containers[0].cpu.usage_nano_cores == S // 2  # type: ignore[union-attr]
    again = rates.fill(summary(12, 2 * S))
    assert again.pods[0].containers[0].cpu.usage_nano_cores == S // 2, "the same sample twice keeps its rate"  # type: ignore[union-attr]
    restarted = rates.fill(summary(14, 1, start=2))
    assert restarted.pods[0].containers[0].cpu.usage_nano_cores is None, "a new instance has no earlier sample"  # type: ignore[union-attr]
    reset = rates.fill(summary(16, 0))
    assert reset.node is not None
    assert reset.node.cpu is not None
    assert reset.node.cpu.usage_nano_cores is None, "a counter that went down gives no rate"

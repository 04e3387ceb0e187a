"""``/metrics/resource``: the kubelet's resource metrics in the Prometheus text format (0.0.4), from the provider's
usage report; what metrics-server scrapes for ``kubectl top`` and autoscaling.

A series is written only when its value was reported: a missing number is never presented as 0 (metrics-server
drops a whole pod for a zero). CPU and memory samples carry the millisecond timestamp of their group's sample time;
``container_start_time_seconds`` carries none. Values are formatted as Go's ``strconv.FormatFloat(v, 'g', -1, 64)``
writes them, labels in name order, as the Go client library does. Without the ``metrics`` capability only the
node's samples are written. ``resource_scrape_error`` (and its deprecated twin ``scrape_error``) is 1 when the
provider could not be asked.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Iterable
from dataclasses import dataclass

from vk_controller.provider.stats import Cpu, Memory, StatsSummary

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class _Family:
    name: str
    kind: str
    help: str


NODE_CPU = _Family(
    "node_cpu_usage_seconds_total", "counter", "[STABLE] Cumulative cpu time consumed by the node in core-seconds"
)
NODE_MEMORY = _Family("node_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the node in bytes")
CONTAINER_CPU = _Family(
    "container_cpu_usage_seconds_total",
    "counter",
    "[STABLE] Cumulative cpu time consumed by the container in core-seconds",
)
CONTAINER_MEMORY = _Family(
    "container_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the container in bytes"
)
CONTAINER_START = _Family(
    "container_start_time_seconds", "gauge", "[STABLE] Start time of the container since unix epoch in seconds"
)
POD_CPU = _Family(
    "pod_cpu_usage_seconds_total", "counter", "[STABLE] Cumulative cpu time consumed by the pod in core-seconds"
)
POD_MEMORY = _Family("pod_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the pod in bytes")
RESOURCE_SCRAPE_ERROR = _Family(
    "resource_scrape_error", "gauge", "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise"
)
SCRAPE_ERROR = _Family(
    "scrape_error",
    "gauge",
    "[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise",
)


def go_float(value: float) -> str:
    """Go's shortest 'g' formatting: ``1.2e+06``, ``123456``, ``0.000123``, ``1.5e-05``."""
    if value == 0:
        return "0"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = decimal.Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point in the digit string
    exp10 = point - 1
    minus = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{minus}{text}{'0' * (point - len(text))}"
    return f"{minus}{text[:point]}.{text[point:]}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: dict[str, str], value: float, timestamp_ms: int | None) -> str:
    rendered = ",".join(f'{key}="{_escape(labels[key])}"' for key in sorted(labels))
    series = f"{name}{{{rendered}}}" if rendered else name
    return f"{series} {go_float(value)}" + (f" {timestamp_ms}" if timestamp_ms is not None else "")


def _ms(time_ns: int) -> int:
    return time_ns // 1_000_000


def _cpu(cpu: Cpu | None) -> tuple[float, int] | None:
    if cpu is None or cpu.usage_core_nano_seconds is None:
        return None
    return cpu.usage_core_nano_seconds / 1e9, _ms(cpu.time_ns)


def _memory(memory: Memory | None) -> tuple[float, int] | None:
    if memory is None or memory.working_set_bytes is None:
        return None
    return float(memory.working_set_bytes), _ms(memory.time_ns)


def _family(family: _Family, samples: Iterable[str]) -> list[str]:
    lines = list(samples)
    if not lines:
        return []
    return [f"# HELP {family.name} {family.help}", f"# TYPE {family.name} {family.kind}", *lines]


def render(summary: StatsSummary | None, *, include_pods: bool) -> str:
    """The exposition text; ``summary`` None means the provider could not be asked."""
    node_cpu: list[str] = []
    node_memory: list[str] = []
    container_cpu: list[str] = []
    container_memory: list[str] = []
    container_start: list[str] = []
    pod_cpu: list[str] = []
    pod_memory: list[str] = []
    if summary is not None and summary.node is not None:
        if (value := _cpu(summary.node.cpu)) is not None:
            node_cpu.append(_sample(NODE_CPU.name, {}, *value))
        if (value := _memory(summary.node.memory)) is not None:
            node_memory.append(_sample(NODE_MEMORY.name, {}, *value))
    for pod in summary.pods if summary is not None and include_pods else ():
        pod_labels = {"pod": pod.name, "namespace": pod.namespace}
        for container in pod.containers:
            labels = {**pod_labels, "container": container.name}
            if (value := _cpu(container.cpu)) is not None:
                container_cpu.append(_sample(CONTAINER_CPU.name, labels, *value))
            if (value := _memory(container.memory)) is not None:
                container_memory.append(_sample(CONTAINER_MEMORY.name, labels, *value))
            if container.start_ns is not None and container.start_ns // 1_000_000_000 > 0:
                container_start.append(_sample(CONTAINER_START.name, labels, container.start_ns / 1e9, None))
        if (value := _cpu(pod.cpu)) is not None:
            pod_cpu.append(_sample(POD_CPU.name, pod_labels, *value))
        if (value := _memory(pod.memory)) is not None:
            pod_memory.append(_sample(POD_MEMORY.name, pod_labels, *value))
    failed = "1" if summary is None else "0"
    lines = [
        *_family(CONTAINER_CPU, container_cpu),
        *_family(CONTAINER_MEMORY, container_memory),
        *_family(CONTAINER_START, container_start),
        *_family(NODE_CPU, node_cpu),
        *_family(NODE_MEMORY, node_memory),
        *_family(POD_CPU, pod_cpu),
        *_family(POD_MEMORY, pod_memory),
        *_family(RESOURCE_SCRAPE_ERROR, [f"{RESOURCE_SCRAPE_ERROR.name} {failed}"]),
        *_family(SCRAPE_ERROR, [f"{SCRAPE_ERROR.name} {failed}"]),
    ]
    return "\n".join(lines) + "\n"


__all__ = ["CONTENT_TYPE", "go_float", "render"]

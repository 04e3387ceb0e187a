"""The resource usage the mock reports for a running container: a fixed share of what the pod declared.

- CPU: 10% of the container's CPU request (of its limit if it has no request; 1 millicore if neither), as a rate,
  and as a cumulative counter that grows at that rate while the container instance runs.
- Memory working set: 50% of the memory request (of the limit if no request; 8 MiB if neither); ``available`` is
  the limit minus the working set, and only reported when there is a limit.

Deterministic, consistent with the declared resources, and only for containers that run: the numbers are
invented (nothing runs), but never out of thin air, and never for a pod that is not running.
"""

from __future__ import annotations

from virtualkubelet.provider.v1 import container_pb2

CPU_SHARE = 0.10
MEMORY_SHARE = 0.50
IDLE_MILLICORES = 1
IDLE_MEMORY_BYTES = 8 * 1024 * 1024


def cpu_nano_cores(container: container_pb2.Container) -> int:
    resources = container.resources
    for amounts in (resources.requests, resources.limits):
        if amounts.HasField("cpu_millicores") and amounts.cpu_millicores > 0:
            return int(amounts.cpu_millicores * 1_000_000 * CPU_SHARE)
    return IDLE_MILLICORES * 1_000_000


def cpu_core_nanoseconds(container: container_pb2.Container, seconds: float) -> int:
    """CPU time used in ``seconds`` of running."""
    return int(cpu_nano_cores(container) * max(seconds, 0.0))


def memory_working_set(container: container_pb2.Container) -> int:
    resources = container.resources
    for amounts in (resources.requests, resources.limits):
        if amounts.HasField("memory_bytes") and amounts.memory_bytes > 0:
            return int(amounts.memory_bytes * MEMORY_SHARE)
    return IDLE_MEMORY_BYTES


def memory_limit(container: container_pb2.Container) -> int | None:
    limits = container.resources.limits
    return limits.memory_bytes if limits.HasField("memory_bytes") and limits.memory_bytes > 0 else None


__all__ = ["cpu_core_nanoseconds", "cpu_nano_cores", "memory_limit", "memory_working_set"]

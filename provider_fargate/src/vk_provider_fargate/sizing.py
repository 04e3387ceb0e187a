"""Fargate task sizes: the valid (cpu, memory) pairs, and the smallest one that holds what a pod asks for.

Fargate runs a task only at one of a fixed set of sizes (CPU units, 1024 = one vCPU; memory in MiB):

====== =========================================
 cpu    memory
====== =========================================
  256   512, 1024, 2048
  512   1024 to 4096, in 1024 steps
 1024   2048 to 8192, in 1024 steps
 2048   4096 to 16384, in 1024 steps
 4096   8192 to 30720, in 1024 steps
 8192   16384 to 61440, in 4096 steps
16384   32768 to 122880, in 8192 steps
====== =========================================

:func:`task_size` rounds a need *up* to the cheapest pair that covers both numbers (fewest CPU units first, then
least memory), or answers None when even the largest task is too small; the caller refuses such a pod.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: CPU units per vCPU, as ECS counts them.
CPU_UNITS_PER_VCPU = 1024
MIB = 1024 * 1024


def _steps(first: int, last: int, step: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1, step))


#: Memory sizes (MiB) allowed for each CPU size, in ascending order.
VALID_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1024, 4096, 1024),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}
LARGEST_CPU = max(VALID_SIZES)
LARGEST_MEMORY_MIB = max(VALID_SIZES[LARGEST_CPU])


@dataclass(frozen=True, order=True)
class TaskSize:
    """A valid Fargate task size."""

    cpu_units: int
    memory_mib: int

    @property
    def cpu_text(self) -> str:
        return str(self.cpu_units)

    @property
    def memory_text(self) -> str:
        return str(self.memory_mib)


def task_size(cpu_units: int, memory_mib: int) -> TaskSize | None:
    """The smallest valid size with at least ``cpu_units`` and ``memory_mib``; None if no size is large enough."""
    for cpu, memories in VALID_SIZES.items():
        if cpu < cpu_units:
            continue
        for memory in memories:
            if memory >= memory_mib:
                return TaskSize(cpu, memory)
    return None


def cpu_units(millicores: int) -> int:
    """Kubernetes millicores as ECS CPU units, rounded up (250m = 256 units)."""
    return math.ceil(millicores * CPU_UNITS_PER_VCPU / 1000)


def mebibytes(size_bytes: int) -> int:
    """Bytes as MiB, rounded up."""
    return math.ceil(size_bytes / MIB)


__all__ = [
    "CPU_UNITS_PER_VCPU",
    "LARGEST_CPU",
    "LARGEST_MEMORY_MIB",
    "VALID_SIZES",
    "TaskSize",
    "cpu_units",
    "mebibytes",
    "task_size",
]

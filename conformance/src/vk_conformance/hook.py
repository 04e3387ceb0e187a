"""The hook: how a test that owns a simulated backend scripts the outcome the kit expects.

A real backend runs the kit's pods (``busybox:1.36`` with ``sh -c`` scripts) and produces the outcome by itself. A
simulated one (moto, an ARM stand-in) cannot run a shell; the test that owns it passes ``--hook module:attr`` and
the kit tells the hook, before each call whose outcome depends on running a container, what it will check:

- ``before_create(pod, expectation)`` before every ``CreatePod`` of a pod the kit expects to run (not before pods
  it expects to be refused). ``expectation`` says which lines the container prints and whether it exits (with
  which code) or runs until deleted.
- ``before_exec(pod, container, expectation)`` before every ``Exec``: the command, the exit code and the output.

Both methods are optional; the kit calls only those the object has. ``attr`` may name the object itself or a class
that makes it without arguments. ``module`` is imported from the Python path (``vk-conformance`` adds the current
directory). A hook only arranges the backend; it must not call the provider.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, cast, runtime_checkable

from virtualkubelet.provider.v1 import pod_pb2


@dataclass(frozen=True)
class Expectation:
    """What a pod's container does once it runs."""

    #: The container the expectation is about (the kit's pods have one, ``main``).
    container: str
    #: The lines it writes to standard output, in order, without newlines.
    stdout_lines: tuple[str, ...]
    #: Its exit code once the lines are written; ``None``: it keeps running until the pod is deleted.
    exit_code: int | None
    #: A TCP port on which it serves an echo (every byte received is sent back); ``None`` if it serves nothing.
    echo_port: int | None = None

    @property
    def runs_until_deleted(self) -> bool:
        return self.exit_code is None


@dataclass(frozen=True)
class ExecExpectation:
    """What a command run with ``Exec`` does."""

    #: The argv, as sent in ``ExecStart.command``.
    command: tuple[str, ...]
    #: The bytes it writes to standard output and to standard error.
    stdout: bytes
    stderr: bytes
    #: Its exit code.
    exit_code: int


@runtime_checkable
class Hook(Protocol):
    """The full hook protocol (each method is optional; see the module docstring)."""

    async def before_create(self, pod: pod_pb2.Pod, expectation: Expectation) -> None: ...

    async def before_exec(self, pod: pod_pb2.PodRef, container: str, expectation: ExecExpectation) -> None: ...


class ScriptedOutcomes:
    """The hook as the kit calls it: the methods the user's object has, no-ops for the others."""

    def __init__(self, target: object | None = None, *, name: str = "") -> None:
        self.name = name
        self._before_create = cast(
            "Callable[[pod_pb2.Pod, Expectation], Awaitable[None]] | None", getattr(target, "before_create", None)
        )
        self._before_exec = cast(
            "Callable[[pod_pb2.PodRef, str, ExecExpectation], Awaitable[None]] | None",
            getattr(target, "before_exec", None),
        )

    async def before_create(self, pod: pod_pb2.Pod, expectation: Expectation) -> None:
        if self._before_create is not None:
            await self._before_create(pod, expectation)

    async def before_exec(self, pod: pod_pb2.PodRef, container: str, expectation: ExecExpectation) -> None:
        if self._before_exec is not None:
            await self._before_exec(pod, container, expectation)


def load_hook(spec: str | None) -> ScriptedOutcomes:
    """The hook named ``module:attr`` (``attr`` may be dotted), or a hook that does nothing."""
    if not spec:
        return ScriptedOutcomes()
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise ValueError(f"--hook {spec!r}: expected module:attr, e.g. my_tests.backend:ConformanceHook")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"--hook {spec!r}: cannot import {module_name}: {error}") from error
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"--hook {spec!r}: {module_name} has no attribute {attr_path}") from None
    if inspect.isclass(target):
        try:
            target = target()
        except Exception as error:
            raise ValueError(f"--hook {spec!r}: cannot make the hook without arguments: {error}") from error
    if not _has_hook_methods(target):
        raise ValueError(f"--hook {spec!r}: the object has neither before_create nor before_exec")
    for method in ("before_create", "before_exec"):
        function = getattr(target, method, None)
        if function is not None and not inspect.iscoroutinefunction(function):
            raise ValueError(f"--hook {spec!r}: {method} must be an async function")
    return ScriptedOutcomes(target, name=spec)


def _has_hook_methods(target: object) -> bool:
    return any(callable(getattr(target, method, None)) for method in ("before_create", "before_exec"))

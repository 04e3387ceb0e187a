"""Pod annotations that script the mock (prefix ``mock.virtual-kubelet.io/``).

- ``startup-delay: DURATION``: containers wait in ContainerCreating that long; the pod IP appears after it.
- ``readiness-delay: DURATION``: a started container becomes ready that long after it started.
- ``exit-after: DURATION`` and ``exit-code: N`` (default 0): every container instance exits that long after it
  started, with that code (earlier if its own command ends earlier).
- ``crash-loop: DURATION`` (``true``: 1s): every instance exits with code 1 after that long; the restart policy
  decides the rest (Always/OnFailure: CrashLoopBackOff, restarts with growing back-off).
- ``restart-backoff: DURATION``: the first delay before a restart (default 10s, at least 10ms), doubled for every
  restart, at most 300s; it is also how long ErrImagePull shows before ImagePullBackOff.
- ``image-pull-error: true`` (or ``*``, or a comma-separated list of images): those containers never start;
  they wait with ErrImagePull, then ImagePullBackOff.
- ``stop-delay: DURATION``: after DeletePod, each process exits by itself (code 0) that long after SIGTERM.
  Without it, processes ignore SIGTERM (as ``sleep`` does) and are killed (137) when the grace period ends.
- ``fail-create: Reason: message``: CreatePod fails with INVALID_ARGUMENT, ErrorInfo reason ``Reason`` and that
  message.
- ``log-flood: BYTES[,LINE-LENGTH]`` (e.g. ``1Gi`` or ``2000000,200``): every regular container writes that many
  bytes of log in lines of that length (default 100, newline included) as soon as it starts, as fast as followers
  read them, then exits with ``exit-code`` (its command is not run). The log is synthetic: generated line by line
  when read, never stored (see ``flood.py``).

Durations: ``150ms``, ``2s``, ``1.5m``, ``1h`` or a bare number of seconds.

Design decision: **a mistyped mock annotation is an error, not ignored.** A test that sets
``mock.virtual-kubelet.io/startup-dealy`` would otherwise pass for the wrong reason; CreatePod refuses the pod
with INVALID_ARGUMENT naming the annotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vk_provider_mock.flood import Flood
from vk_provider_mock.shell import parse_sleep
from vk_provider_sdk import errors

PREFIX = "mock.virtual-kubelet.io/"
KNOWN = frozenset(
    {
        "startup-delay",
        "readiness-delay",
        "exit-after",
        "exit-code",
        "crash-loop",
        "restart-backoff",
        "image-pull-error",
        "stop-delay",
        "fail-create",
        "log-flood",
    }
)
DEFAULT_RESTART_BACKOFF = 10.0
MAX_RESTART_BACKOFF = 300.0
MIN_RESTART_BACKOFF = 0.01  # restarts always move time forward, so a crash loop cannot spin


@dataclass(frozen=True)
class Behaviour:
    """How the mock runs one pod, from its annotations."""

    startup_delay: float = 0.0
    readiness_delay: float = 0.0
    exit_after: float | None = None
    exit_code: int = 0
    crash_loop: float | None = None
    restart_backoff: float = DEFAULT_RESTART_BACKOFF
    #: None: no image fails; empty: every image fails; else the images that fail.
    image_pull_error: frozenset[str] | None = None
    stop_delay: float | None = None
    #: (reason, message) for CreatePod to fail with.
    fail_create: tuple[str, str] | None = None
    #: The synthetic log every regular container writes before it exits.
    log_flood: Flood | None = None

    def image_fails(self, image: str) -> bool:
        if self.image_pull_error is None:
            return False
        return not self.image_pull_error or image in self.image_pull_error

    def backoff(self, restarts: int) -> float:
        """The delay before restart number ``restarts + 1``."""
        return float(min(self.restart_backoff * 2 ** min(restarts, 30), MAX_RESTART_BACKOFF))


def parse_duration(text: str) -> float:
    """Seconds from ``150ms``, ``2s``, ``1.5m``, ``1h`` or a bare number."""
    seconds = parse_sleep(text.strip())
    if seconds == float("inf"):
        raise ValueError(text)
    return seconds


def from_annotations(annotations: Mapping[str, str], *, default_stop_delay: float | None = None) -> Behaviour:
    """The pod's behaviour; InvalidPod naming the annotation when a value (or a mock annotation name) is wrong."""
    values = {key.removeprefix(PREFIX): value for key, value in annotations.items() if key.startswith(PREFIX)}
    for name in values:
        if name not in KNOWN:
            raise errors.InvalidPod(
                f"metadata.annotations[{PREFIX}{name}]: unknown mock annotation; known: {', '.join(sorted(KNOWN))}",
                reason="InvalidMockAnnotation",
            )

    def duration(name: str) -> float | None:
        if name not in values:
            return None
        try:
            return parse_duration(values[name])
        except ValueError:
            raise _invalid(name, values[name], "a duration such as 2s or 150ms") from None

    exit_code = 0
    if "exit-code" in values:
        try:
            exit_code = int(values["exit-code"])
        except ValueError:
            raise _invalid("exit-code", values["exit-code"], "an integer") from None
        if not 0 <= exit_code <= 255:
            raise _invalid("exit-code", values["exit-code"], "an integer from 0 to 255")
    crash_loop = None
    if "crash-loop" in values:
        crash_loop = 1.0 if values["crash-loop"].strip().lower() in ("", "true") else duration("crash-loop")
    image_pull_error = None
    if "image-pull-error" in values:
        images = {part.strip() for part in values["image-pull-error"].split(",") if part.strip()}
        image_pull_error = frozenset() if images & {"true", "*"} or not images else frozenset(images)
    fail_create = None
    if "fail-create" in values:
        reason, sep, message = values["fail-create"].partition(":")
        if not sep:
            reason, message = "MockCreateFailed", values["fail-create"]
        fail_create = (reason.strip() or "MockCreateFailed", message.strip() or "refused by the mock (fail-create)")
    log_flood = None
    if "log-flood" in values:
        try:
            log_flood = Flood.parse(values["log-flood"])
        except ValueError:
            raise _invalid(
                "log-flood", values["log-flood"], "BYTES[,LINE-LENGTH] such as 1Gi or 2000000,200 (line length >= 1)"
            ) from None
    stop_delay = duration("stop-delay")
    return Behaviour(
        startup_delay=duration("startup-delay") or 0.0,
        readiness_delay=duration("readiness-delay") or 0.0,
        exit_after=duration("exit-after"),
        exit_code=exit_code,
        crash_loop=crash_loop,
        restart_backoff=max(duration("restart-backoff") or DEFAULT_RESTART_BACKOFF, MIN_RESTART_BACKOFF),
        image_pull_error=image_pull_error,
        stop_delay=stop_delay if stop_delay is not None else default_stop_delay,
        fail_create=fail_create,
        log_flood=log_flood,
    )


def _invalid(name: str, value: str, expected: str) -> errors.InvalidPod:
    return errors.InvalidPod(
        f"metadata.annotations[{PREFIX}{name}]: {value!r} is not {expected}", reason="InvalidMockAnnotation"
    )


__all__ = ["KNOWN", "PREFIX", "Behaviour", "from_annotations", "parse_duration"]

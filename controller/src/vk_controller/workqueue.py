"""A keyed work queue for level-based reconciliation.

Events only say "look at this key again"; a worker re-reads the current state and acts on it. The queue therefore
holds keys, not objects, and gives these guarantees (the same as client-go's workqueue):

- a key waiting in the queue is held once, however often it is added (deduplication);
- a key is handed to at most one worker at a time; added again while a worker holds it, it is queued again only
  when that worker is done, so the latest state is always looked at once more;
- failures back off exponentially per key, from ``base_delay`` up to ``max_delay``; success resets the count;
- ``add_after`` schedules a look later (the earliest of several schedules wins).

Concurrency is bounded by the number of workers that :func:`run_workers` starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from vk_controller import logs
from vk_controller.metrics import Metrics, QueueMetrics
from vk_provider_sdk import tracing

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class ShutDown(Exception):
    """The queue was shut down; workers stop."""


class TerminalError(Exception):
    """An error that retrying cannot fix: the key is dropped (after the handler recorded why)."""


@dataclass(frozen=True)
class Requeue:
    """A handler's answer: look at the key again after ``seconds`` (e.g. a deadline), without counting a failure."""

    seconds: float


class WorkQueue(Generic[K]):
    def __init__(self, *, name: str = "queue", base_delay: float = 0.005, max_delay: float = 300.0) -> None:
        self.name = name
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._added_at: dict[K, float] = {}
        self._timers: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._failures: dict[K, int] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shut_down = False

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def processing(self) -> int:
        return len(self._processing)

    def add(self, key: K) -> None:
        if self._shut_down or key in self._dirty:
            return
        self._dirty.add(key)
        self._added_at.setdefault(key, time.monotonic())
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake_one()

    def add_after(self, key: K, seconds: float) -> None:
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + seconds
        current = self._timers.get(key)
        if current is not None:
            if current[0] <= due:
                return
            current[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def backoff(self, key: K) -> float:
        """The delay the next failure of ``key`` will wait."""
        failures = self._failures.get(key, 0)
        return min(self._base_delay * (2.0**failures), self._max_delay)

    def add_rate_limited(self, key: K) -> float:
        delay = self.backoff(key)
        self._failures[key] = self._failures.get(key, 0) + 1
        self.add_after(key, delay)
        return delay

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        """Reset the failure count of ``key`` (after a success, or after giving up)."""
        self._failures.pop(key, None)

    async def get(self) -> tuple[K, float]:
        """The next key and how long it waited in the queue; the caller must call :meth:`done` with it."""
        while not self._queue:
            if self._shut_down:
                raise ShutDown(self.name)
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._getters:
                    self._getters.remove(waiter)
                raise
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        waited = time.monotonic() - self._added_at.pop(key, time.monotonic())
        return key, waited

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty and not self._shut_down:
            self._queue.append(key)
            self._wake_one()

    def shut_down(self) -> None:
        self._shut_down = True
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


Handler = Callable[[K], Awaitable[Requeue | None]]


async def _work(
    queue: WorkQueue[K],
    handler: Handler[K],
    is_retryable: Callable[[BaseException], bool],
    recorder: QueueMetrics,
) -> None:
    span_name = f"reconcile {queue.name}"
    while True:
        try:
            key, waited = await queue.get()
        except ShutDown:
            return
        recorder.waited(waited)
        logged = logs.work_key.set(str(key))
        started = time.perf_counter()
        outcome = "done"
        try:
            with tracing.span(span_name, attributes={"vk.key": str(key)}):
                result = await handler(key)
        except TerminalError as error:
            outcome = "terminal"
            log.warning("%s: giving up on %s: %s", queue.name, key, error)
            queue.forget(key)
        except Exception as error:
            if is_retryable(error):
                outcome = "retry"
                delay = queue.add_rate_limited(key)
                log.info("%s: %s failed (%s), retrying in %.3fs", queue.name, key, error, delay)
            else:
                outcome = "terminal"
                log.exception("%s: %s failed and will not be retried", queue.name, key)
                queue.forget(key)
        else:
            queue.forget(key)
            if result is not None:
                outcome = "requeue"
                queue.add_after(key, result.seconds)
        finally:
            queue.done(key)
            recorder.reconciled(outcome, time.perf_counter() - started)
            logs.work_key.reset(logged)


async def run_workers(
    queue: WorkQueue[K],
    handler: Handler[K],
    *,
    workers: int,
    is_retryable: Callable[[BaseException], bool] = lambda _error: True,
    metrics: Metrics | None = None,
) -> None:
    """Run ``workers`` concurrent workers until the queue is shut down (or the task is cancelled).

    Each reconcile is timed by result (``metrics``), is a span when tracing is on, and its log lines carry the key.
    """
    recorder = (metrics or Metrics()).queue(queue)
    async with asyncio.TaskGroup() as group:
        for index in range(workers):
            group.create_task(_work(queue, handler, is_retryable, recorder), name=f"{queue.name}-worker-{index}")

"""The keyed work queue: deduplication, one worker per key, backoff, delayed adds."""

from __future__ import annotations

import asyncio

import pytest

from vk_controller.workqueue import Requeue, ShutDown, TerminalError, WorkQueue, run_workers


async def test_a_key_added_twice_is_handed_out_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("b")
    queue.add("a")

    assert len(queue) == 2
    assert (await queue.get())[0] == "a"
    assert (await queue.get())[0] == "b"


async def test_a_key_added_while_processed_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key, _ = await queue.get()
    queue.add("a")

    assert len(queue) == 0, "a key being processed must not be handed to a second worker"
    queue.done(key)
    assert len(queue) == 1
    assert (await queue.get())[0] == "a"


async def test_failures_back_off_exponentially_and_success_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.05)

    delays = [queue.add_rate_limited("a") for _ in range(5)]
    queue.forget("a")

    assert delays == [0.01, 0.02, 0.04, 0.05, 0.05]
    assert queue.backoff("a") == 0.01


async def test_the_earliest_of_two_delayed_adds_wins() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 30)
    queue.add_after("a", 0.01)

    key, _ = await asyncio.wait_for(queue.get(), timeout=5)

    assert key == "a"


async def test_get_raises_shutdown_once_the_queue_is_shut_down() -> None:
    queue: WorkQueue[str] = WorkQueue()
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shut_down()

    with pytest.raises(ShutDown):
        await waiting


async def test_workers_retry_retryable_errors_and_drop_terminal_ones() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.001)
    calls: dict[str, int] = {"flaky": 0, "broken": 0, "fine": 0}
    finished = asyncio.Event()

    async def handle(key: str) -> Requeue | None:
        calls[key] += 1
        if key == "flaky" and calls[key] < 3:
            raise ConnectionError("try again")
        if key == "broken":
            raise TerminalError("never")
        if calls["flaky"] == 3 and calls["fine"] >= 1:
            finished.set()
        return None

    for key in calls:
        queue.add(key)
    workers = asyncio.create_task(run_workers(queue, handle, workers=2))
    await asyncio.wait_for(finished.wait(), timeout=5)
    await asyncio.sleep(0.01)
    queue.shut_down()
    await workers

    assert calls == {"flaky": 3, "broken": 1, "fine": 1}
    assert queue.failures("flaky") == 0


async def test_no_two_workers_hold_the_same_key() -> None:
    queue: WorkQueue[str] = WorkQueue()
    holding: set[str] = set()
    overlaps = 0
    handled = 0

    async def handle(key: str) -> None:
        nonlocal overlaps, handled
        if key in holding:
            overlaps += 1
        holding.add(key)
        await asyncio.sleep(0.001)
        holding.discard(key)
        handled += 1

    workers = asyncio.create_task(run_workers(queue, handle, workers=4))
    for _ in range(50):
        queue.add("same")
        queue.add("other")
        await asyncio.sleep(0.0005)
    while len(queue) or queue.processing:
        await asyncio.sleep(0.001)
    queue.shut_down()
    await workers

    assert overlaps == 0
    assert handled >= 2


async def test_a_requeue_answer_looks_again_later() -> None:
    queue: WorkQueue[str] = WorkQueue()
    seen = 0
    again = asyncio.Event()

    async def handle(key: str) -> Requeue | None:
        nonlocal seen
        seen += 1
        if seen == 2:
            again.set()
        return Requeue(0.01) if seen == 1 else None

    queue.add("deadline")
    workers = asyncio.create_task(run_workers(queue, handle, workers=1))
    await asyncio.wait_for(again.wait(), timeout=5)
    queue.shut_down()
    await workers

    assert seen == 2

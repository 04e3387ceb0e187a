"""Status polling: one loop for all pods, DescribeTasks in batches of 100, on an adaptive interval.

ECS has no push notification a provider can receive without more AWS plumbing (EventBridge and a queue), so the
status comes from DescribeTasks, and the cost must not grow with pods times ticks:

- each round describes every *unfinished* task in calls of up to 100 ARNs (500 pods: 5 calls per round); a task
  that reached STOPPED is not described again;
- the interval starts at ``--poll-interval`` and returns there whenever a round saw a change or the provider was
  woken (a create or a delete); while nothing changes it doubles up to ``--max-poll-interval``;
- a failed round is logged, remembered for Ping (the Node turns NotReady with the reason) and retried on the
  backoff schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from vk_provider_sdk import errors

if TYPE_CHECKING:
    from vk_provider_fargate.provider import FargateProvider

log = logging.getLogger(__name__)


class Poller:
    def __init__(self, provider: FargateProvider, *, min_interval: float, max_interval: float) -> None:
        self._provider = provider
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.interval = min_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: The error of the last round, until a round succeeds.
        self.problem: errors.ProviderError | None = None
        #: Rounds and DescribeTasks calls made, for logs and tests.
        self.rounds = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fargate status poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Poll soon and go back to the short interval (after a create or a delete)."""
        self.interval = self.min_interval
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                changed = await self.poll_once()
            except errors.ProviderError as error:
                if self.problem is None:
                    log.warning("status poll failed: %s", error)
                self.problem = error
                self.interval = min(self.interval * 2, self.max_interval)
                continue
            except Exception:
                log.exception("status poll failed")
                self.interval = min(self.interval * 2, self.max_interval)
                continue
            self.problem = None
            if changed or woken:
                self.interval = self.min_interval
            else:
                self.interval = min(self.interval * 2, self.max_interval)

    async def poll_once(self) -> bool:
        """One round over every unfinished task; True if any pod's record changed."""
        pending = {pod_task.task_arn: pod_task for pod_task in self._provider.unfinished()}
        if not pending:
            return False
        self.rounds += 1
        tasks, missing = await self._provider.describe(sorted(pending))
        changed = False
        for task in tasks:
            pod_task = pending.pop(str(task.get("taskArn", "")), None)
            if pod_task is not None:
                changed = self._provider.observed(pod_task, task) or changed
        for arn in missing:
            pod_task = pending.pop(arn, None)
            if pod_task is not None:
                self._provider.missing(pod_task)
                changed = True
        log.debug("status round %d: %d task(s) described, changed=%s", self.rounds, len(tasks), changed)
        return changed


__all__ = ["Poller"]

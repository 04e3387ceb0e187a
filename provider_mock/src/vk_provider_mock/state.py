"""The mock's "backend storage": a JSON file that outlives the provider process (``--state-file``).

Top-level shape (``version`` 1)::

    {
      "version": 1,
      "saved_at": 1767225600.25,              # unix time of this write
      "pods": {"<uid>": {                       # every pod the mock has, including terminating ones
          "pod": {...},                         # the Pod message as protobuf JSON (field names as in the .proto)
          "created_at": 1767225590.0, "pod_ip": "10.244.3.7", "init_failed": false,
          "deletion": null | {"requested_at": ..., "kill_at": ..., "stop_at": ...},
          "containers": {"<name>": {"kind": "main", "restart_count": 0, "next_start_at": null,
                                    "cpu_ns_finished": 0, "current": {...}, "previous": null}}}},
      "creates": {"<uid>": 1},                  # how many times each UID was really created (never decreases)
      "node": {"cpu_ns_removed": 0}             # CPU time of pods already gone (keeps the node counter monotonic)
    }

``creates`` keeps UIDs after their pods are gone, so a test can prove that no pod was ever created twice,
across provider restarts included.

Design decisions:

- **Atomic replace.** Each write goes to ``<path>.tmp`` (mode 0600: pod specs hold secret values, as a backend's
  storage would) and is renamed over the file, so a reader or a restarted provider never sees half a file. No fsync:
  the guarantee is against the provider being killed (kill -9), not against power loss.
- **Coalesced writes, group commit.** Every change schedules a write (:meth:`StateFile.changed`); writes happen
  at most once per ``min_interval`` (0.1 s) and the last change is never lost, since it always schedules one.
  CreatePod, UpdatePod and DeletePod also wait for the write that includes them (:meth:`StateFile.persisted`)
  before they answer, so a provider killed right after answering CreatePod still has the pod when it restarts
  and a retried CreatePod finds it; a burst of creates shares one write instead of rewriting the file per pod.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vk_provider_sdk import errors

log = logging.getLogger(__name__)

VERSION = 1


class StateFile:
    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]], *, min_interval: float = 0.1) -> None:
        self.path = path
        self._snapshot = snapshot
        self._min_interval = min_interval
        self._last_write = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self.writes = 0

    def load(self) -> dict[str, Any] | None:
        """The stored state, or None if there is no file yet."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"{self.path}: not a vk-provider-mock state file of version {VERSION}")
        return data

    def changed(self) -> None:
        """Write soon: at once if the last write is old enough, else when ``min_interval`` has passed."""
        if self._timer is not None:
            return
        delay = max(0.0, self._last_write + self._min_interval - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self.flush)

    async def persisted(self) -> None:
        """Return once the current state is on disk (raises Unavailable if it cannot be written)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.changed()
        await waiter

    def flush(self) -> None:
        """Write now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiters, self._waiters = self._waiters, []
        try:
            self._write()
        except OSError as error:
            log.error("cannot write the state file %s: %s", self.path, error)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(errors.Unavailable(f"the mock cannot write its state file: {error}"))
            return
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _write(self) -> None:
        data = {"version": VERSION, "saved_at": time.time(), **self._snapshot()}
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(data, file, separators=(",", ":"))
        os.replace(temporary, self.path)
        self._last_write = time.monotonic()
        self.writes += 1


__all__ = ["VERSION", "StateFile"]

"""List-then-watch of one kind of object, kept in a local cache, with a callback per changed key.

The watch resumes from the last resourceVersion it saw (bookmarks keep that fresh on quiet watches) after a
dropped connection, and relists only when the API server answers 410 Gone (the version was compacted away). A
relist replaces the cache and reports every key that appeared, changed or disappeared, so nothing is missed across
a gap. Consumers are level-based: the callback only says "look at this key"; they read :meth:`Informer.get`.

The cache keeps objects without ``metadata.managedFields``: nothing in the controller reads them, and for a pod
they are a large part of its size (the scale benchmark's memory per pod).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

from vk_controller.kube.client import KubeClient
from vk_controller.kube.errors import ApiError, Gone

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def _trimmed(obj: Obj) -> Obj:
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


def object_key(obj: Obj) -> str:
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


class Informer:
    def __init__(
        self,
        kube: KubeClient,
        path: str,
        *,
        field_selector: str | None = None,
        on_change: Callable[[str], None],
        page_size: int = 500,
        min_retry: float = 0.2,
        max_retry: float = 10.0,
    ) -> None:
        self._kube = kube
        self._path = path
        self._selector = field_selector
        self._on_change = on_change
        self._page_size = page_size
        self._min_retry = min_retry
        self._max_retry = max_retry
        self._cache: dict[str, Obj] = {}
        self._resource_version = ""
        self.synced = asyncio.Event()
        self.relists = 0

    def wrote(self, obj: Obj) -> None:
        """Our own write returned ``obj``: cache it now, so the next write does not start from a stale version.

        The watch brings the same version a moment later; until then a second write would fail its
        resourceVersion precondition for nothing.
        """
        key = object_key(obj)
        if key in self._cache and self._cache[key]["metadata"].get("uid") == obj["metadata"].get("uid"):
            self._cache[key] = _trimmed(obj)

    def get(self, key: str) -> Obj | None:
        return self._cache.get(key)

    def all_keys(self) -> list[str]:
        return list(self._cache)

    def values(self) -> Iterator[Obj]:
        return iter(list(self._cache.values()))

    def __len__(self) -> int:
        return len(self._cache)

    def _params(self) -> dict[str, str | int | bool]:
        params: dict[str, str | int | bool] = {}
        if self._selector:
            params["fieldSelector"] = self._selector
        return params

    async def _list(self) -> None:
        items: dict[str, Obj] = {}
        params = {**self._params(), "limit": self._page_size}
        while True:
            page = await self._kube.get(self._path, params=params)
            for item in page.get("items", []):
                items[object_key(item)] = _trimmed(item)
            cont = page["metadata"].get("continue")
            if not cont:
                break
            params["continue"] = cont
        previous, self._cache = self._cache, items
        self._resource_version = page["metadata"]["resourceVersion"]
        self.relists += 1
        for key in previous.keys() | items.keys():
            old, new = previous.get(key), items.get(key)
            if (
                old is None
                or new is None
                or old["metadata"].get("resourceVersion") != new["metadata"].get("resourceVersion")
            ):
                self._on_change(key)
        self.synced.set()

    async def _watch(self) -> None:
        params = {
            **self._params(),
            "resourceVersion": self._resource_version,
            "allowWatchBookmarks": True,
            # Spread reconnections of many controllers; the server ends the watch after this long.
            "timeoutSeconds": random.randint(240, 480),  # noqa: S311
        }
        async for event in self._kube.watch(self._path, params=params):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(410, str(obj.get("message", "")), reason="Expired", method="WATCH", path=self._path)
                raise ApiError(int(obj.get("code", 500)), str(obj.get("message", "")), method="WATCH", path=self._path)
            version = obj.get("metadata", {}).get("resourceVersion")
            if version:
                self._resource_version = version
            if kind == "BOOKMARK":
                continue
            key = object_key(obj)
            if kind == "DELETED":
                self._cache.pop(key, None)
            else:
                self._cache[key] = _trimmed(obj)
            self._on_change(key)

    async def run(self) -> None:
        """List, then watch forever; relist on 410 Gone; back off on other failures."""
        delay = self._min_retry
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                delay = self._min_retry
            except Gone:
                log.info("%s: resourceVersion %s expired, relisting", self._path, self._resource_version)
                need_list = True
            except ApiError as error:
                log.warning("%s: watch failed (%s), retrying in %.1fs", self._path, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry)

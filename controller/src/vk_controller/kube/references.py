"""Watches of exactly the configMaps and secrets that this node's pods reference, and nothing else.

A cluster-wide Secret or ConfigMap informer would hold every secret of the cluster in memory (a common complaint
about upstream virtual-kubelet) and is not allowed to a node anyway. Instead each referenced object gets a watch of
its own (``fieldSelector=metadata.name=<name>`` in its namespace, which the Node authorizer permits for objects a
bound pod references), started when the first pod references it and stopped when the last one goes. A change, or
the object appearing, calls ``on_change`` with the keys of the pods that reference it: a pod waiting for a missing
configMap starts at once, and a mounted configMap's new content reaches the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from vk_controller.kube.client import KubeClient
from vk_controller.kube.informer import Informer

log = logging.getLogger(__name__)

Json = dict[str, Any]
Ref = tuple[str, str, str]  # (kind: "configmaps" | "secrets", namespace, name)


def pod_references(pod: Json) -> set[Ref]:
    """Every configMap and secret the pod names: env, envFrom, volumes, projected sources, pull secrets."""
    namespace = pod["metadata"]["namespace"]
    spec = pod["spec"]
    refs: set[Ref] = set()

    def add(kind: str, name: str | None) -> None:
        if name:
            refs.add((kind, namespace, name))

    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            for source in container.get("envFrom") or []:
                add("configmaps", (source.get("configMapRef") or {}).get("name"))
                add("secrets", (source.get("secretRef") or {}).get("name"))
            for var in container.get("env") or []:
                value_from = var.get("valueFrom") or {}
                add("configmaps", (value_from.get("configMapKeyRef") or {}).get("name"))
                add("secrets", (value_from.get("secretKeyRef") or {}).get("name"))
    for volume in spec.get("volumes") or []:
        add("configmaps", (volume.get("configMap") or {}).get("name"))
        add("secrets", (volume.get("secret") or {}).get("secretName"))
        add("secrets", (volume.get("azureFile") or {}).get("secretName"))
        for source in (volume.get("projected") or {}).get("sources") or []:
            add("configmaps", (source.get("configMap") or {}).get("name"))
            add("secrets", (source.get("secret") or {}).get("name"))
    for secret in spec.get("imagePullSecrets") or []:
        add("secrets", secret.get("name"))
    return refs


class ReferencedObjects:
    def __init__(self, kube: KubeClient, *, on_change: Callable[[Iterable[str]], None]) -> None:
        self._kube = kube
        self._on_change = on_change
        self._by_pod: dict[str, set[Ref]] = {}
        self._pods_of: dict[Ref, set[str]] = {}
        self._watches: dict[Ref, tuple[Informer, asyncio.Task[None]]] = {}

    def __len__(self) -> int:
        return len(self._watches)

    def track(self, pod_key: str, pod: Json) -> None:
        """Record what ``pod`` references now; start watches for new objects, stop those nobody references."""
        wanted = pod_references(pod)
        before = self._by_pod.get(pod_key, set())
        if wanted == before:
            return
        self._by_pod[pod_key] = wanted
        for ref in wanted - before:
            self._pods_of.setdefault(ref, set()).add(pod_key)
            if ref not in self._watches:
                self._start(ref)
        for ref in before - wanted:
            self._release(ref, pod_key)

    def forget(self, pod_key: str) -> None:
        for ref in self._by_pod.pop(pod_key, set()):
            self._release(ref, pod_key)

    def _release(self, ref: Ref, pod_key: str) -> None:
        pods = self._pods_of.get(ref)
        if pods is None:
            return
        pods.discard(pod_key)
        if not pods:
            del self._pods_of[ref]
            _, task = self._watches.pop(ref)
            task.cancel()

    def _start(self, ref: Ref) -> None:
        kind, namespace, name = ref
        informer = Informer(
            self._kube,
            f"/api/v1/namespaces/{namespace}/{kind}",
            field_selector=f"metadata.name={name}",
            on_change=lambda _key: self._changed(ref),
        )
        task = asyncio.get_running_loop().create_task(informer.run(), name=f"watch-{kind}-{namespace}-{name}")
        self._watches[ref] = (informer, task)

    def _changed(self, ref: Ref) -> None:
        self._on_change(sorted(self._pods_of.get(ref, ())))

    def lookup(self, kind: str, namespace: str, name: str) -> tuple[bool, Json | None]:
        """``(True, object or None)`` when a synced watch knows the answer; ``(False, None)`` otherwise."""
        watch = self._watches.get((kind, namespace, name))
        if watch is None or not watch[0].synced.is_set():
            return False, None
        return True, watch[0].get(f"{namespace}/{name}")

    async def close(self) -> None:
        tasks = [task for _, task in self._watches.values()]
        self._watches.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

"""Reads of the objects a pod references, as the node: single named GETs and TokenRequests.

The Node authorizer learns of a pod's references a moment after the pod is bound, so a 403 right after binding
is expected and worth retrying: it is raised as a retryable error, not as "forbidden for good".
"""

from __future__ import annotations

from typing import Any

from vk_controller.kube.client import KubeClient
from vk_controller.kube.errors import Forbidden, NotFound
from vk_controller.kube.informer import Informer

Json = dict[str, Any]


class NotYetAuthorized(Forbidden):
    """403 for an object a bound pod references: the Node authorizer's graph has not caught up yet."""

    retryable = True


class NotYetVisible(NotFound):
    """The API server answered 404 for the pod a TokenRequest is bound to: its cache has not seen the pod yet."""

    retryable = True


class KubeObjects:
    def __init__(self, kube: KubeClient, *, services: Informer | None = None) -> None:
        self._kube = kube
        self._services = services

    async def _get(self, path: str) -> Json | None:
        try:
            obj: Json = await self._kube.get(path)
            return obj
        except NotFound:
            return None
        except Forbidden as error:
            raise NotYetAuthorized(error.status, error.message, reason=error.reason, method="GET", path=path) from error

    async def config_map(self, namespace: str, name: str) -> Json | None:
        return await self._get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")

    async def secret(self, namespace: str, name: str) -> Json | None:
        return await self._get(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    async def services(self, namespace: str) -> list[Json]:
        """The namespace's services: from the service watch once it has synced (as the kubelet does), else a GET."""
        if self._services is not None and self._services.synced.is_set():
            prefix = namespace + "/"
            return [
                obj for key in self._services.all_keys() if key.startswith(prefix) and (obj := self._services.get(key))
            ]
        listed = await self._kube.get(f"/api/v1/namespaces/{namespace}/services")
        items: list[Json] = listed.get("items", [])
        for item in items:
            item["metadata"].setdefault("namespace", namespace)
        return items

    async def service_account_token(
        self, namespace: str, service_account: str, *, pod: Json, audience: str | None, seconds: int
    ) -> str:
        meta = pod["metadata"]
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [audience] if audience else [],
                "expirationSeconds": seconds,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
            },
        }
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token"
        try:
            answer = await self._kube.create(path, body)
        except Forbidden as error:
            raise NotYetAuthorized(
                error.status, error.message, reason=error.reason, method="POST", path=path
            ) from error
        return str(answer["status"]["token"])

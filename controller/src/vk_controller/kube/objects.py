"""Reads of the objects a pod references, as the node: from the per-object watches when they have synced, else
single named GETs; and service-account tokens through TokenRequests, reused until 80% of their lifetime.

The Node authorizer learns of a pod's references a moment after the pod is bound, so a 403 right after binding
is expected and worth retrying: it is raised as a retryable error, not as "forbidden for good".
"""

from __future__ import annotations

import time
from typing import Any

from vk_controller.kube.client import KubeClient
from vk_controller.kube.errors import Forbidden, NotFound
from vk_controller.kube.informer import Informer
from vk_controller.kube.references import ReferencedObjects

Json = dict[str, Any]


class NotYetAuthorized(Forbidden):
    """403 for an object a bound pod references: the Node authorizer's graph has not caught up yet."""

    retryable = True


class NotYetVisible(NotFound):
    """The API server answered 404 for the pod a TokenRequest is bound to: its cache has not seen the pod yet."""

    retryable = True


TOKEN_REFRESH_FRACTION = 0.8


class KubeObjects:
    def __init__(
        self,
        kube: KubeClient,
        *,
        services: Informer | None = None,
        references: ReferencedObjects | None = None,
    ) -> None:
        self._kube = kube
        self._services = services
        self._references = references
        # (namespace, account, pod uid, audience, seconds) -> (token, refresh at (monotonic))
        self._tokens: dict[tuple[str, str, str, str, int], tuple[str, float]] = {}

    def token_refresh_in(self, pod_uid: str) -> float | None:
        """Seconds until the first of this pod's cached tokens should be refreshed; None if it has none."""
        due = [at for key, (_, at) in self._tokens.items() if key[2] == pod_uid]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def forget_pod(self, pod_uid: str) -> None:
        for key in [key for key in self._tokens if key[2] == pod_uid]:
            del self._tokens[key]

    async def _get(self, path: str) -> Json | None:
        try:
            obj: Json = await self._kube.get(path)
            return obj
        except NotFound:
            return None
        except Forbidden as error:
            raise NotYetAuthorized(error.status, error.message, reason=error.reason, method="GET", path=path) from error

    async def _watched_or_get(self, kind: str, namespace: str, name: str) -> Json | None:
        if self._references is not None:
            known, obj = self._references.lookup(kind, namespace, name)
            if known:
                return obj
        return await self._get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")

    async def config_map(self, namespace: str, name: str) -> Json | None:
        return await self._watched_or_get("configmaps", namespace, name)

    async def secret(self, namespace: str, name: str) -> Json | None:
        return await self._watched_or_get("secrets", namespace, name)

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
        key = (namespace, service_account, meta["uid"], audience or "", seconds)
        cached = self._tokens.get(key)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
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
        except NotFound as error:
            # Either the service account is missing (the kubelet waits for it too) or the API server's cache has
            # not seen the freshly bound pod yet: both can pass, so retry.
            raise NotYetVisible(error.status, error.message, reason=error.reason, method="POST", path=path) from error
        token = str(answer["status"]["token"])
        self._tokens[key] = (token, time.monotonic() + seconds * TOKEN_REFRESH_FRACTION)
        return token

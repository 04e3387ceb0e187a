"""What a caller may do: the kubelet's mapping of requests to ``nodes`` subresources, asked of the API server with
SubjectAccessReviews.

The verb comes from the method (GET ``get``, POST ``create``, PUT ``update``, PATCH ``patch``, DELETE ``delete``,
anything else ``""``), so an exec over a WebSocket (GET) needs ``get nodes/proxy`` and over SPDY (POST) ``create
nodes/proxy``. The path picks the subresource(s): ``/stats`` stats, ``/metrics`` metrics, ``/logs`` log,
``/checkpoint`` checkpoint, ``/pods`` and ``/runningpods`` pods, ``/healthz`` healthz, ``/configz`` and
``/flagz`` configz, ``/statusz`` statusz (each of those five also proxy), anything else proxy (so
``/containerLogs`` is proxy, not log). Any one allowed subresource is enough.

Answers are cached as the kubelet's webhook authorizer does: allowed for 5 minutes, denied for 30 seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from vk_controller.kube import ApiError, KubeClient
from vk_controller.kubeletapi.authn import User
from vk_controller.kubeletapi.cache import TTLCache

ALLOWED_TTL = 300.0
DENIED_TTL = 30.0

_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
# (path, subresource) pairs checked before the main ones; a match there adds "proxy" through the default below.
_FINE_GRAINED = (
    ("/pods", "pods"),
    ("/healthz", "healthz"),
    ("/configz", "configz"),
    ("/flagz", "configz"),
    ("/statusz", "statusz"),
    ("/runningpods/", "pods"),
)
_MAIN = (("/stats/", "stats"), ("/metrics", "metrics"), ("/logs/", "log"), ("/checkpoint/", "checkpoint"))


@dataclass(frozen=True)
class Attributes:
    verb: str
    subresources: tuple[str, ...]
    resource: str = "nodes"


class AuthorizationError(Exception):
    """The API server could not be asked (500)."""


def is_subpath(subpath: str, path: str) -> bool:
    path = path.removesuffix("/")
    return subpath == path or (subpath.startswith(path) and subpath[len(path)] == "/")


def request_attributes(method: str, path: str) -> Attributes:
    subresources = [sub for prefix, sub in _FINE_GRAINED if is_subpath(path, prefix)][:1]
    main = next((sub for prefix, sub in _MAIN if is_subpath(path, prefix)), "proxy")
    return Attributes(verb=_VERBS.get(method.upper(), ""), subresources=(*subresources, main))


def _go_list(items: tuple[str, ...]) -> str:
    return "[" + " ".join(items) + "]"


def forbidden_message(user: User, attributes: Attributes) -> str:
    return (
        f"Forbidden (user={user.name}, verb={attributes.verb}, resource={attributes.resource}, "
        f"subresource(s)={_go_list(attributes.subresources)})"
    )


def error_message(user: User, attributes: Attributes) -> str:
    return (
        f"Authorization error (user={user.name}, verb={attributes.verb}, resource={attributes.resource}, "
        f"subresource(s)={_go_list(attributes.subresources)})"
    )


class Authorizer:
    def __init__(
        self,
        kube: KubeClient,
        *,
        node_name: str,
        allowed_ttl: float = ALLOWED_TTL,
        denied_ttl: float = DENIED_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._node = node_name
        self._allowed_ttl = allowed_ttl
        self._denied_ttl = denied_ttl
        self._cache: TTLCache[str, bool] = TTLCache(clock=clock)
        self.reviews = 0

    def _spec(self, user: User, verb: str, subresource: str) -> dict[str, object]:
        spec: dict[str, object] = {
            "user": user.name,
            "groups": list(user.groups),
            "resourceAttributes": {
                "verb": verb,
                "group": "",
                "version": "v1",
                "resource": "nodes",
                "subresource": subresource,
                "name": self._node,
            },
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra.items()}
        return spec

    async def _allowed(self, user: User, verb: str, subresource: str) -> bool:
        spec = self._spec(user, verb, subresource)
        key = json.dumps(spec, sort_keys=True)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        try:
            answer = await self._kube.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
        except ApiError as error:
            raise AuthorizationError(str(error)) from error
        self.reviews += 1
        allowed = bool(((answer or {}).get("status") or {}).get("allowed"))
        self._cache.put(key, allowed, self._allowed_ttl if allowed else self._denied_ttl)
        return allowed

    async def authorize(self, user: User, attributes: Attributes) -> bool:
        """Whether any of the attributes is allowed; raises :class:`AuthorizationError` if none is and asking
        failed for one of them."""
        failure: AuthorizationError | None = None
        for subresource in attributes.subresources:
            try:
                if await self._allowed(user, attributes.verb, subresource):
                    return True
            except AuthorizationError as error:
                failure = error
        if failure is not None:
            raise failure
        return False


__all__ = [
    "Attributes",
    "AuthorizationError",
    "Authorizer",
    "error_message",
    "forbidden_message",
    "is_subpath",
    "request_attributes",
]

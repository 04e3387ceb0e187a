"""``/pods`` (the pods bound to this node, as the API server has them) and ``/runningpods/`` (what the provider
runs, in the sparse form the kubelet builds from its container runtime: identity plus running containers).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vk_controller.kubeletapi.context import KubeletContext
from vk_controller.kubeletapi.responses import json_response
from vk_controller.provider.records import RunningPod

Json = dict[str, Any]


def pod_list(items: list[Json]) -> Json:
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}


def running_pod_json(pod: RunningPod) -> Json:
    return {
        "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid, "creationTimestamp": None},
        "spec": {"containers": [{"name": c.name, "image": c.image, "resources": {}} for c in pod.containers]},
        "status": {},
    }


async def pods(request: web.Request, ctx: KubeletContext) -> web.Response:
    items = [{"apiVersion": "v1", "kind": "Pod", **pod} for pod in ctx.pods()]
    return json_response(pod_list(items))


async def running_pods(request: web.Request, ctx: KubeletContext) -> web.Response:
    return json_response(pod_list([running_pod_json(pod) for pod in ctx.running_pods()]))

"""Drain and remove a virtual node: the Helm chart's pre-delete hook runs ``python -m vk_controller.drain``.

Deleting the chart's Deployment alone would stop the controller while the node's pods still run on the backend
(container groups, Fargate tasks: billed) and leave a NotReady Node behind. So before the chart's objects go, this:

1. cordons the node, so the scheduler places nothing new on it;
2. deletes every pod bound to it with the pod's own grace period; the controller, still running, asks the provider
   to delete each one and removes the object only once the provider confirms its containers are gone;
3. waits until no pod is bound to the node (deleting any that appeared meanwhile), then deletes the Node.

It runs with the hook's own ServiceAccount (pods: list and delete; this node only: get, patch, delete), never the
node's identity, which may not delete its Node. A drain that times out exits 1 naming the pods left, so
``helm uninstall`` fails loudly instead of leaving billable pods behind silently.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from vk_controller import logs
from vk_controller.kube import ApiError, KubeClient, NotFound, load_config
from vk_controller.kube.config import ConfigError

log = logging.getLogger("vk_controller.drain")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vk_controller.drain",
        description="Cordon a virtual node, delete its pods, wait for the provider to release them, delete the Node.",
    )
    p.add_argument("--nodename", default=os.environ.get("VK_NODENAME"), help="the Node to drain (env VK_NODENAME)")
    p.add_argument(
        "--kubeconfig", default=os.environ.get("KUBECONFIG"), help="kubeconfig file (default: in-cluster config)"
    )
    p.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the pods to go (default 240)")
    p.add_argument("--poll-interval", type=float, default=2.0, help="seconds between looks at the node's pods")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


async def _bound_pods(kube: KubeClient, node: str) -> list[dict[str, Any]]:
    listed = await kube.get("/api/v1/pods", params={"fieldSelector": f"spec.nodeName={node}"})
    return list(listed.get("items") or [])


async def _delete_pod(kube: KubeClient, pod: dict[str, Any]) -> None:
    meta = pod["metadata"]
    try:
        # No grace period given: the pod's own terminationGracePeriodSeconds applies, as for a kubectl drain.
        await kube.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", uid=meta["uid"])
        log.info("deleting pod %s/%s", meta["namespace"], meta["name"])
    except NotFound:
        pass


async def drain(kube: KubeClient, node: str, *, give_up_after: float, poll_interval: float) -> list[str]:
    """Drain ``node`` and delete it. If ``give_up_after`` seconds run out first, return the pods still bound to it
    and leave the Node, so the controller can still finish the deletions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    try:
        await kube.patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": True}})
        log.info("cordoned node %s", node)
    except NotFound:
        log.info("node %s does not exist; deleting any pods still bound to it", node)
    while pods := await _bound_pods(kube, node):
        for pod in pods:
            if not pod["metadata"].get("deletionTimestamp"):
                await _delete_pod(kube, pod)
        if loop.time() >= deadline:
            return sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods)
        await asyncio.sleep(poll_interval)
    try:
        await kube.delete(f"/api/v1/nodes/{node}")
        log.info("deleted node %s", node)
    except NotFound:
        pass
    return []


async def _run(args: argparse.Namespace) -> int:
    async with KubeClient(load_config(args.kubeconfig), user_agent="vk-controller-drain") as kube:
        left = await drain(kube, args.nodename, give_up_after=args.timeout, poll_interval=args.poll_interval)
    if left:
        log.error("timed out after %.0fs; pods still bound to %s: %s", args.timeout, args.nodename, ", ".join(left))
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not args.nodename:
        p.error("--nodename (or VK_NODENAME) is required")
    logs.configure(args.log_level, "text")
    try:
        return asyncio.run(_run(args))
    except (ConfigError, ApiError) as error:
        log.error("%s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The Node's Ready condition while the controller cannot run the Node at all (the provider speaks another protocol
major, see ``provider/version.py``).

There is then no Node template (the provider's capacity and system info) to register or update the Node with, so
only the Ready condition of a Node that exists is written: False, with the reason and message. Written again as a
heartbeat (``lastHeartbeatTime``) so that the node lifecycle controller keeps trusting it rather than replacing it
with Unknown. A Node that does not exist yet is not created: it is registered once a provider of the right major
answers.
"""

from __future__ import annotations

from typing import Any

from vk_controller.kube import KubeClient, NotFound
from vk_controller.kube.client import STRATEGIC_MERGE_PATCH
from vk_controller.kube.times import format_time, now


async def mark_not_ready(kube: KubeClient, node_name: str, *, reason: str, message: str) -> bool:
    """Set the Node's Ready condition to False with ``reason`` and ``message``; False if the Node does not exist."""
    try:
        node: dict[str, Any] = await kube.get(f"/api/v1/nodes/{node_name}")
    except NotFound:
        return False
    stamp = format_time(now())
    conditions: list[dict[str, Any]] = node.get("status", {}).get("conditions") or []
    before: dict[str, Any] = next((condition for condition in conditions if condition.get("type") == "Ready"), {})
    ready = {
        "type": "Ready",
        "status": "False",
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": stamp,
        # Moves only when the status flips, as the kubelet does it.
        "lastTransitionTime": before.get("lastTransitionTime", stamp) if before.get("status") == "False" else stamp,
    }
    await kube.patch(
        f"/api/v1/nodes/{node_name}/status", {"status": {"conditions": [ready]}}, content_type=STRATEGIC_MERGE_PATCH
    )
    return True


__all__ = ["mark_not_ready"]

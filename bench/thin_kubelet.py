"""The benchmark baseline: the thinnest possible kubelet.

It watches the pods bound to its node and patches each new one's status straight to Running, and deletes a
terminating one with grace 0. Nothing else: no provider, no conditions logic, no events. Whatever the real
controller achieves is compared with this, measured in the same run on the same control plane, so the ratio says
how close the controller gets to the API server's own limit on this machine.

Plain aiohttp and JSON, independent of the product's client, so a slow product client cannot slow the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml


def _ssl_context(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "c", Path(tmp) / "k"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        context.load_cert_chain(str(cert), str(key))
    return cluster["server"], context


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run(kubeconfig: Path, node: str, concurrency: int) -> None:
    server, context = _ssl_context(kubeconfig)
    pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with aiohttp.ClientSession(server, connector=aiohttp.TCPConnector(ssl=context, limit=64)) as session:

        async def worker() -> None:
            while True:
                pod = await pending.get()
                meta = pod["metadata"]
                path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
                if meta.get("deletionTimestamp"):
                    body = {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}
                    async with session.delete(path, json=body) as response:
                        await response.read()
                    continue
                now = _now()
                status = {
                    "metadata": {"uid": meta["uid"]},
                    "status": {
                        "phase": "Running",
                        "startTime": now,
                        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
                    },
                }
                async with session.patch(
                    path + "/status", data=json.dumps(status), headers={"Content-Type": "application/merge-patch+json"}
                ) as response:
                    await response.read()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        seen: set[str] = set()
        params = {"watch": "1", "fieldSelector": f"spec.nodeName={node}", "allowWatchBookmarks": "true"}
        async with session.get("/api/v1/pods", params=params, timeout=aiohttp.ClientTimeout(total=None)) as response:
            async for line in response.content:
                event = json.loads(line)
                pod = event["object"]
                if event["type"] == "BOOKMARK" or event["type"] == "DELETED":
                    continue
                uid = pod["metadata"]["uid"]
                if pod["metadata"].get("deletionTimestamp") or uid not in seen:
                    seen.add(uid)
                    pending.put_nowait(pod)
        for task in workers:
            task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--node", required=True)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.kubeconfig, args.node, args.concurrency))


if __name__ == "__main__":
    main()

"""The event loop the project's processes run on: uvloop when it is installed, asyncio's own otherwise.

Both the controller and the providers are I/O-bound loops of small requests, and on a node that shares its cores
with the API server every CPU-millisecond they spend is taken from it. uvloop's C event loop costs less per
callback and per socket operation than asyncio's Python one (BENCHMARKS.md has the measured effect); grpc.aio and
aiohttp both run on any asyncio loop. It is optional so that a platform without it still runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - installed with the SDK on every platform it supports
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)

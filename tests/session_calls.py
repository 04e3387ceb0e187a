"""Driving one bidirectional provider session (exec, attach, port-forward) from a test, the way the controller does.

The controller writes the ``start`` message and waits for the provider's first answer before it writes anything
else. Tests must do the same: a write that races with a provider refusing the session makes grpcio report
``INTERNAL: Internal error from Core`` instead of the provider's status (grpc/grpc#36066), so a test that sends its
whole request stream up front fails at random.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar, cast

import grpc

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


class _Method(Protocol[RequestT, ResponseT]):
    def __call__(self, *, timeout: float | None = None) -> grpc.aio.StreamStreamCall[RequestT, ResponseT]: ...


async def converse(
    method: _Method[RequestT, ResponseT],
    start: RequestT,
    rest: Iterable[RequestT] = (),
    *,
    deadline: float = 30,
) -> list[ResponseT]:
    """Send ``start``, wait for the first answer, send ``rest`` and half-close; every answer until the RPC ends.

    A provider that refuses the session raises its own status as ``grpc.aio.AioRpcError``.
    """
    call = method(timeout=deadline)
    await call.write(start)
    responses: list[ResponseT] = []
    first = await call.read()
    if first is grpc.aio.EOF:
        return responses
    responses.append(cast("ResponseT", first))
    for request in rest:
        if call.done():  # the session ended while we were still sending: what it answered is still read below
            break
        await call.write(request)
    if not call.done():
        await call.done_writing()
    while (response := await call.read()) is not grpc.aio.EOF:
        responses.append(cast("ResponseT", response))
    return responses

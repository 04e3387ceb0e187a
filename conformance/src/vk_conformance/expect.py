"""How a check says what it expected and what came back.

Checks fail through :func:`fail` (a pytest failure without a Python traceback: the provider's author needs the
protocol's words, not the kit's stack) and wrap calls in :func:`answer` (the call must succeed) or :func:`refusal`
(the call must fail with one of the given codes), so that every message reads "expected X; got Y".
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection
from typing import NoReturn, TypeVar

import grpc
import pytest
from google.protobuf import message, text_format

from virtualkubelet.provider.v1 import capabilities_pb2
from vk_conformance import describe

T = TypeVar("T")

_SHOWN_CHARS = 400


def fail(text: str) -> NoReturn:
    """Fail the check with ``text`` alone: no traceback, and no chained gRPC error (``text`` already says it)."""
    raise pytest.fail.Exception(text, pytrace=False) from None


def shown(value: message.Message) -> str:
    """A message in protobuf text format on one line, cut to a readable length."""
    text = text_format.MessageToString(value, as_one_line=True) or "(empty message)"
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + " ..."


async def answer(what: str, call: Awaitable[T]) -> T:
    """The response of ``call``, which the check needs to succeed."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        fail(f"expected {what} to succeed; got {describe.rpc_error(error)}")


async def refusal(what: str, call: Awaitable[object], codes: Collection[grpc.StatusCode]) -> grpc.aio.AioRpcError:
    """The error ``call`` fails with, which must have one of ``codes``."""
    expected = " or ".join(code.name for code in codes)
    try:
        response = await call
    except grpc.aio.AioRpcError as error:
        if error.code() not in codes:
            fail(f"expected {what} to fail with {expected}; got {describe.rpc_error(error)}")
        return error
    got = shown(response) if isinstance(response, message.Message) else repr(response)
    fail(f"expected {what} to fail with {expected}; got OK: {got}")


def declared(capabilities: capabilities_pb2.Capabilities, path: str) -> bool:
    """Whether the capability at ``path`` (e.g. ``logs.tail_lines``) is declared true."""
    value: object = capabilities
    for part in path.split("."):
        value = getattr(value, part)
    return value is True


def require(capabilities: capabilities_pb2.Capabilities, *paths: str) -> None:
    """Skip the check, naming the capability, unless every capability in ``paths`` is declared."""
    for path in paths:
        if not declared(capabilities, path):
            skip(f"the provider does not declare capabilities.{path}")


def skip(reason: str) -> NoReturn:
    """Skip the check; the summary shows the check's own location, not this helper's."""
    raise pytest.skip.Exception(reason, _use_item_location=True)

"""Tracing for the controller and every Python provider: off unless the standard ``OTEL_*`` environment asks.

Switched on by ``OTEL_TRACES_EXPORTER`` (``otlp`` or ``console``) or by an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keeps it off. The exporter, batching, sampling and resource read the rest of the
standard variables themselves (``OTEL_SERVICE_NAME``, ``OTEL_BSP_SCHEDULE_DELAY``, ...).

Off is the default and costs nothing measurable: the OpenTelemetry SDK is not even imported, and every helper
here returns a shared no-op context manager (or ``None``) after one test of a module global. The W3C trace
context travels in gRPC metadata (``traceparent``): the controller adds it with :func:`grpc_metadata`, the
provider SDK's server continues it with :func:`server_span`. The OTLP exporter
(``opentelemetry-exporter-otlp-proto-grpc``) is needed only when ``otlp`` is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

log = logging.getLogger(__name__)

_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()

# Set by configure() when tracing is on; None means off.
_tracer: Any = None
_provider: Any = None
_kinds: dict[str, Any] = {}
_inject: Callable[[dict[str, str]], None] | None = None
_extract: Callable[[Mapping[str, str]], Any] | None = None
_current_span: Callable[[], Any] | None = None


def exporter_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The span exporter the environment asks for (``otlp``, ``console``), or None when tracing stays off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = [e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if exporters:
        return None if exporters[0] == "none" else exporters[0]
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return None


def enabled() -> bool:
    return _tracer is not None


def configure(service_name: str) -> bool:
    """Turn tracing on if the environment asks for it (once per process); True when it is on."""
    global _tracer, _provider, _inject, _extract, _current_span
    if _tracer is not None:
        return True
    exporter_name = exporter_from_env()
    if exporter_name is None:
        return False
    from opentelemetry import propagate, trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.error("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp-proto-grpc; tracing stays off")
            return False
        exporter = OTLPSpanExporter()
    elif exporter_name == "console":
        exporter = ConsoleSpanExporter()
    else:
        log.error("unsupported OTEL_TRACES_EXPORTER %r (otlp, console, none); tracing stays off", exporter_name)
        return False
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _kinds.update(internal=trace.SpanKind.INTERNAL, server=trace.SpanKind.SERVER, client=trace.SpanKind.CLIENT)
    _provider = provider
    _inject = propagate.inject
    _extract = propagate.extract
    _current_span = trace.get_current_span
    _tracer = provider.get_tracer("virtual-kubelet")
    log.info("tracing on: spans go to the %s exporter", exporter_name)
    return True


def shutdown() -> None:
    """Export the spans still buffered (at process exit)."""
    if _provider is not None:
        _provider.shutdown()


def span(
    name: str, *, kind: str = "internal", attributes: Mapping[str, str] | None = None
) -> AbstractContextManager[Any]:
    """A span around a block, child of the current one; a shared no-op when tracing is off."""
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(name, kind=_kinds[kind], attributes=attributes)  # type: ignore[no-any-return]


def server_span(
    name: str, carrier: Iterable[tuple[str, str | bytes]] | None, *, attributes: Mapping[str, str] | None = None
) -> AbstractContextManager[Any]:
    """A server span continuing the caller's trace from its gRPC metadata or HTTP headers (``traceparent``)."""
    if _tracer is None:
        return _NO_SPAN
    assert _extract is not None
    headers = {key.lower(): value for key, value in carrier or () if isinstance(value, str)}
    parent = _extract(headers)
    return _tracer.start_as_current_span(  # type: ignore[no-any-return]
        name, context=parent, kind=_kinds["server"], attributes=attributes
    )


def grpc_metadata() -> tuple[tuple[str, str], ...] | None:
    """gRPC metadata carrying the current trace context, or None when tracing is off."""
    if _inject is None:
        return None
    carrier: dict[str, str] = {}
    _inject(carrier)
    return tuple(carrier.items())


def current_trace_id() -> str | None:
    """The current trace's id (32 hex digits) for log lines, or None."""
    if _current_span is None:
        return None
    context = _current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


__all__ = [
    "configure",
    "current_trace_id",
    "enabled",
    "exporter_from_env",
    "grpc_metadata",
    "server_span",
    "shutdown",
    "span",
]

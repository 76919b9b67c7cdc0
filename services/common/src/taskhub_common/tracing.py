"""OpenTelemetry tracing for every TaskHub process.

Spans are always created, so logs and responses carry trace ids even natively; they are
exported only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (compose points it at the
collector), through a batch processor that never blocks a request. `OTEL_SDK_DISABLED=true`
switches tracing off entirely.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

_configured_service: str | None = None

# Paths polled by probes and Prometheus: tracing them only adds noise.
UNTRACED_PATHS = "healthz,readyz,metrics"


def tracing_enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"


def configure_tracing(service_name: str) -> None:
    """Install the process's tracer provider once (later calls are no-ops)."""
    global _configured_service
    if _configured_service is not None or not tracing_enabled():
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured_service = service_name


def instrument_app(app: FastAPI) -> None:
    """Server spans for every request, continuing the caller's `traceparent`."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=UNTRACED_PATHS)


def instrument_clients(engine: AsyncEngine | None = None) -> None:
    """Client spans for outgoing HTTP (httpx), SQL (SQLAlchemy) and Redis calls."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    if not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry:
        HTTPXClientInstrumentor().instrument()
    if not RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().instrument()
    if engine is not None:
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)


def inject_trace_context(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The current trace context as headers (`traceparent`), for hand-carried hops
    such as ARQ job arguments and outbox events."""
    headers: dict[str, str] = dict(carrier or {})
    propagate.inject(headers)
    return headers


def extract_trace_context(carrier: Mapping[str, str] | None) -> Context:
    """The context a hand-carried `traceparent` describes (empty when absent)."""
    return propagate.extract(dict(carrier or {}))


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None

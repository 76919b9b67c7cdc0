"""OpenTelemetry tracing for every TaskHub process.

Spans are always created, so logs and responses carry trace ids even natively; they are
exported only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (compose points it at the
collector), through a batch processor whose worker thread does the sending: a request
never waits for the collector, present or not. Without an endpoint nothing would read a
recorded span, so spans are not recorded (their ids still reach logs, `X-Trace-ID` and
the next hop) unless the caller's `traceparent` is sampled; `OTEL_TRACES_SAMPLER` chooses
otherwise, with or without an endpoint. `OTEL_SDK_DISABLED=true` switches tracing off
entirely.

Hops no instrumentation covers (ARQ jobs, outbox events) carry the context by hand:
`inject_trace_context` at the producer, `continue_trace` at the consumer.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

import httpx
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_configured_service: str | None = None
# Engines already traced: SQLAlchemy's instrumentor patches an engine once per call.
_traced_engines: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()

# One export attempt may take this long (in the exporter's thread, never a request's).
EXPORT_TIMEOUT_SECONDS = 5.0
# How long a worker process waits for its last spans at shutdown.
SHUTDOWN_FLUSH_MILLIS = 5000

_tracer = trace.get_tracer("taskhub")


def tracing_enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"


def build_tracer_provider(service_name: str, *, otlp_endpoint: str | None) -> TracerProvider:
    """A provider naming `service_name`; with an endpoint, spans go there in batches."""
    sampler: Sampler | None = None  # the SDK's: OTEL_TRACES_SAMPLER, else every span
    if not otlp_endpoint and not os.environ.get("OTEL_TRACES_SAMPLER"):
        # Recording a span nobody exports is work for nothing (a request's server span and
        # a page span: 39 µs recorded, 16 µs not, measured in-process); ids are made anyway.
        # Not parent-based: the gateway marks every trace it starts as sampled, so a
        # parent-based policy recorded every request (a status change's SQL spans among
        # them) and exported none.
        sampler = ALWAYS_OFF
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=sampler
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(
            endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces", timeout=EXPORT_TIMEOUT_SECONDS
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(service_name: str) -> None:
    """Install the process's tracer provider once (later calls are no-ops).

    Call it in the process that creates the spans: a prefork Celery child configures its
    own in `worker_process_init` (the batch thread of a parent does not survive a fork).
    """
    global _configured_service
    if _configured_service is not None or not tracing_enabled():
        return
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    # Compose names each worker container (celery-worker, arq-worker) with OTEL_SERVICE_NAME.
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    trace.set_tracer_provider(build_tracer_provider(name, otlp_endpoint=endpoint))
    _configured_service = service_name


def flush_traces(timeout_millis: int = SHUTDOWN_FLUSH_MILLIS) -> bool:
    """Export what is still buffered (a worker child about to exit); True when done."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        return provider.force_flush(timeout_millis)
    return True


# The request headers a server span continues: W3C trace context (the propagator's fields).
_TRACE_CONTEXT_HEADERS = frozenset({b"traceparent", b"tracestate"})
_server_tracer = trace.get_tracer("taskhub.server")


def _caller_context(scope: Scope) -> Context:
    """The trace the caller's `traceparent` names (a new trace without one)."""
    return extract_trace_context(
        {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_CONTEXT_HEADERS
        }
    )


class ServerSpanMiddleware:
    """A SERVER span per HTTP request, continuing the caller's `traceparent`, for every path
    but `untraced_paths` (probes, scrapes). Added outermost, so logs and `X-Trace-ID` see
    its ids.

    Pure ASGI, and its attributes are computed only when the span is recorded: most
    requests' spans are not (see `build_tracer_provider`), yet FastAPI's own telemetry
    built the attributes (the query string parsed and re-encoded among them) and wrapped
    the request twice for every one of them: 50 µs of a 640 µs task-list request.
    The query string is left out of the span, as it is out of the access log.
    """

    def __init__(self, app: ASGIApp, *, untraced_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.untraced_paths = untraced_paths
        self.enabled = tracing_enabled()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or scope["path"] in self.untraced_paths:
            await self.app(scope, receive, send)
            return
        span = _server_tracer.start_span(
            scope["method"], context=_caller_context(scope), kind=trace.SpanKind.SERVER
        )
        status_code: int | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        failure: BaseException | None = None
        try:
            with trace.use_span(
                span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                await self.app(scope, receive, send_noting_status)
        except BaseException as error:
            failure = error
            raise
        finally:
            if span.is_recording():
                _describe_server_span(span, scope, status_code, failure)
            span.end()


def _describe_server_span(
    span: trace.Span, scope: Scope, status_code: int | None, failure: BaseException | None
) -> None:
    """The HTTP semantic-convention attributes of a recorded server span, and its name."""
    method = scope["method"]
    route = getattr(scope.get("route"), "path", None)
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.scheme": scope.get("scheme", "http"),
        "url.path": scope["path"],
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    if route:
        attributes["http.route"] = route
        span.update_name(f"{method} {route}")
    if status_code is not None:
        attributes["http.response.status_code"] = status_code
    if failure is not None or status_code is None or status_code >= 500:
        attributes["error.type"] = (
            type(failure).__qualname__ if failure is not None else str(status_code or "incomplete")
        )
        span.set_status(trace.StatusCode.ERROR)
    span.set_attributes(attributes)


def instrument_clients(*engines: AsyncEngine) -> None:
    """Client spans for outgoing HTTP (httpx), Redis and SQL on each of `engines`.

    Idempotent: call it from every lifespan / worker start-up with the process's engines.
    """
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    if not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry:
        HTTPXClientInstrumentor().instrument()
    if not RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().instrument()
    # What SQLAlchemyInstrumentor does per engine, minus its once-per-process guard:
    # a process may open engines at different times (a worker child opens its own).
    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = get_meter("taskhub").create_up_down_counter("db.client.connections.usage")
    for engine in engines:
        if engine not in _traced_engines:
            EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]
            _traced_engines.add(engine)


def instrument_celery() -> None:
    """Producer spans (context into message headers) and worker spans (continued from them)."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def inject_trace_context(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The current trace context as headers (`traceparent`), for hand-carried hops
    such as ARQ job arguments and outbox events."""
    headers: dict[str, str] = dict(carrier or {})
    propagate.inject(headers)
    return headers


def extract_trace_context(carrier: Mapping[str, str] | None) -> Context:
    """The context a hand-carried `traceparent` describes (empty when absent)."""
    return propagate.extract(dict(carrier or {}))


@contextmanager
def continue_trace(
    name: str,
    carrier: Mapping[str, str] | None,
    *,
    kind: trace.SpanKind = trace.SpanKind.CONSUMER,
) -> Iterator[trace.Span]:
    """A current span `name` inside the trace `carrier` names (a new trace without one).

    Client instrumentation below it (httpx, SQL, Celery publish) then propagates that trace.
    """
    with _tracer.start_as_current_span(
        name, context=extract_trace_context(carrier), kind=kind
    ) as span:
        yield span


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def keep_trace_context_private(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """`client` without trace propagation, for requests that leave TaskHub (webhooks):
    our trace ids are not shared with third parties. Wrap its calls in a span yourself."""
    if tracing_enabled():
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.uninstrument_client(client)
    return client

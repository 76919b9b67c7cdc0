"""Tracing beyond the basics: hand-carried traces, SQL spans, and export that never blocks."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from celery import Celery
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from taskhub_common.db import Database
from taskhub_common.loopback import LoopbackServer, StubResponse
from taskhub_common.tracing import (
    build_tracer_provider,
    continue_trace,
    current_trace_id,
    extract_trace_context,
    flush_traces,
    inject_trace_context,
    instrument_celery,
    instrument_clients,
)

# Ending a span must cost the request microseconds, collector or not.
SPAN_BUDGET_SECONDS = 0.002


def _trace_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def test_continue_trace_joins_the_carried_trace(spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("test").start_as_current_span("enqueue"):
        carried = inject_trace_context()
        producer_trace = current_trace_id()
    with continue_trace("release_job", carried) as span:
        assert span.is_recording()
        assert current_trace_id() == producer_trace
    [consumer] = [span for span in spans.get_finished_spans() if span.name == "release_job"]
    assert consumer.kind is trace.SpanKind.CONSUMER
    assert consumer.parent is not None
    assert _trace_of(consumer) == producer_trace


def test_continue_trace_without_a_carrier_starts_a_new_trace(spans: InMemorySpanExporter) -> None:
    with trace.get_tracer("test").start_as_current_span("unrelated"):
        unrelated = current_trace_id()
        with continue_trace("release_job", None):
            # An empty carrier means "no parent", not "the span that happens to be current".
            assert current_trace_id() not in (None, unrelated)


@pytest.mark.integration
async def test_sql_on_an_instrumented_engine_is_a_child_span(
    database_url: str, spans: InMemorySpanExporter
) -> None:
    database = Database(database_url, pool_size=1)
    instrument_clients(database.engine)
    instrument_clients(database.engine)  # a second call must not trace twice
    try:
        with trace.get_tracer("test").start_as_current_span("request") as parent:
            await database.ping()
    finally:
        await database.dispose()
    sql = [span for span in spans.get_finished_spans() if span.name.startswith("SELECT")]
    assert len(sql) == 1, [span.name for span in spans.get_finished_spans()]
    assert sql[0].parent is not None
    assert sql[0].parent.span_id == parent.get_span_context().span_id


def test_an_outgoing_request_is_one_client_span_however_often_clients_are_instrumented(
    spans: InMemorySpanExporter,
) -> None:
    with LoopbackServer(lambda _: StubResponse(204)) as server:
        instrument_clients()
        instrument_clients()  # every lifespan and worker start-up calls it again
        with httpx.Client() as client:
            assert client.get(f"{server.url}/").status_code == 204
    client_spans = [s for s in spans.get_finished_spans() if s.kind is trace.SpanKind.CLIENT]
    assert [span.name for span in client_spans] == ["GET"]


def test_a_celery_task_is_one_span_however_often_celery_is_instrumented(
    spans: InMemorySpanExporter,
) -> None:
    app = Celery("demo", set_as_current=False)

    @app.task(name="demo.ping")
    def ping() -> str:
        return "pong"

    instrument_celery()
    instrument_celery()  # the worker's start-up and each forked child call it
    assert ping.apply().get() == "pong"
    runs = [span for span in spans.get_finished_spans() if "demo.ping" in span.name]
    assert len(runs) == 1, [span.name for span in spans.get_finished_spans()]


# --- export ------------------------------------------------------------------------------


@pytest.fixture
def collector() -> Iterator[LoopbackServer]:
    """A loopback stand-in for the OTel collector's OTLP/HTTP receiver."""
    answer = StubResponse(200, headers={"Content-Type": "application/x-protobuf"})
    with LoopbackServer({"POST /*": lambda _: answer}) as server:
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _time_spans(provider: TracerProvider, count: int) -> float:
    tracer = provider.get_tracer("test")
    started = time.perf_counter()
    for index in range(count):
        with tracer.start_as_current_span(f"request-{index}"):
            pass
    return (time.perf_counter() - started) / count


def test_spans_reach_the_collector_over_otlp_http(collector: LoopbackServer) -> None:
    endpoint = collector.url
    provider = build_tracer_provider("demo-svc", otlp_endpoint=endpoint)
    try:
        with provider.get_tracer("test").start_as_current_span("exported-span"):
            pass
        assert provider.force_flush(5000)
    finally:
        provider.shutdown()
    assert collector.requests
    assert {request.path for request in collector.requests} == {"/v1/traces"}
    bodies = [request.body for request in collector.requests]
    assert any(b"exported-span" in body and b"demo-svc" in body for body in bodies)


def test_an_absent_collector_never_slows_a_span() -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    provider = build_tracer_provider("demo-svc", otlp_endpoint=endpoint)
    try:
        per_span = _time_spans(provider, 500)
    finally:
        provider.shutdown()
    assert per_span < SPAN_BUDGET_SECONDS, f"{per_span * 1000:.3f} ms per span"


def test_without_an_endpoint_nothing_is_exported() -> None:
    provider = build_tracer_provider("demo-svc", otlp_endpoint=None)
    assert provider._active_span_processor._span_processors == ()


def _recorded(provider: TracerProvider, parent: Context | None = None) -> tuple[bool, int]:
    span = provider.get_tracer("test").start_span("work", context=parent)
    recording = span.is_recording()
    span.end()
    return recording, span.get_span_context().trace_id


def test_without_an_endpoint_spans_keep_their_ids_but_are_not_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    quiet = build_tracer_provider("demo-svc", otlp_endpoint=None)
    recorded, trace_id = _recorded(quiet)
    assert not recorded
    assert trace_id != 0  # logs, X-Trace-ID and the next hop still get an id
    # A caller's sampled trace (the gateway marks every trace it starts so) is continued,
    # not recorded: nothing here would export it.
    sampled = {"traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"}
    assert _recorded(quiet, extract_trace_context(sampled)) == (False, int("ab" * 16, 16))
    exported = build_tracer_provider("demo-svc", otlp_endpoint="http://127.0.0.1:9")
    try:
        assert _recorded(exported)[0]
    finally:
        exported.shutdown()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    assert _recorded(build_tracer_provider("demo-svc", otlp_endpoint=None))[0]


def test_flush_without_an_sdk_provider_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", trace.NoOpTracerProvider)
    assert flush_traces(10) is True

"""Trace context carried by hand across hops that no instrumentation covers (ARQ, outbox)."""

from __future__ import annotations

from opentelemetry import trace

from taskhub_common.tracing import (
    configure_tracing,
    current_trace_id,
    extract_trace_context,
    inject_trace_context,
)


def test_context_survives_a_round_trip_through_a_plain_dict() -> None:
    configure_tracing("demo-svc")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("producer"):
        carried = inject_trace_context()
        producer_trace = current_trace_id()
    assert carried["traceparent"].split("-")[1] == producer_trace
    with tracer.start_as_current_span("consumer", context=extract_trace_context(carried)):
        assert current_trace_id() == producer_trace


def test_no_context_means_a_new_trace() -> None:
    assert current_trace_id() is None
    assert inject_trace_context({"keep": "me"}) == {"keep": "me"}
    assert extract_trace_context(None) == extract_trace_context({})

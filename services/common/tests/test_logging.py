"""JSON logging: one object per line, request and trace ids, no framework duplicates."""

from __future__ import annotations

import io
import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from taskhub_common.context import reset_request_id, set_request_id
from taskhub_common.logging import JsonFormatter, configure_logging


def _format(record: logging.LogRecord) -> dict[str, object]:
    return dict(json.loads(JsonFormatter("demo-svc").format(record)))


def test_a_record_is_one_json_object_with_the_standard_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "demo", "levelname": "WARNING", "msg": "hello %s", "args": ("world",)}
    )
    entry = _format(record)
    assert entry["msg"] == "hello world"
    assert entry["level"] == "warning"
    assert entry["service"] == "demo-svc"
    assert entry["logger"] == "demo"
    assert {"ts", "request_id", "trace_id", "span_id"} <= entry.keys()


def test_extra_fields_and_the_request_id_are_included() -> None:
    token = set_request_id("req-42")
    try:
        entry = _format(logging.makeLogRecord({"msg": "x", "user_id": "u-1"}))
    finally:
        reset_request_id(token)
    assert entry["request_id"] == "req-42"
    assert entry["user_id"] == "u-1"


def test_trace_and_span_ids_come_from_the_active_span() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        entry = _format(logging.makeLogRecord({"msg": "inside"}))
        context = span.get_span_context()
    assert entry["trace_id"] == format(context.trace_id, "032x")
    assert entry["span_id"] == format(context.span_id, "016x")


def test_exceptions_are_kept_inside_the_one_line() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    line = JsonFormatter("demo-svc").format(record)
    assert "\n" not in line
    assert "ValueError: bad" in json.loads(line)["exc_info"]


def test_configure_logging_routes_framework_loggers_to_json(
    capsys: object,
) -> None:
    configure_logging("demo-svc", "INFO")
    root = logging.getLogger()
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("uvicorn.error").info("started")
    logging.getLogger("uvicorn.access").info("duplicate access line")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["started"]

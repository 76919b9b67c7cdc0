"""JSON logging: one object per line, request and trace ids, no framework duplicates."""

from __future__ import annotations

import io
import json
import logging
import time

from opentelemetry.sdk.trace import TracerProvider

from taskhub_common.context import reset_request_id, set_request_id
from taskhub_common.logging import BatchingStreamHandler, JsonFormatter, configure_logging


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


def test_batched_lines_come_out_whole_and_in_order() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonFormatter("demo-svc"))
    for number in range(500):
        handler.handle(logging.makeLogRecord({"msg": f"line {number}"}))
    handler.flush()
    lines = [json.loads(line)["msg"] for line in stream.getvalue().splitlines()]
    assert lines == [f"line {number}" for number in range(500)]


def test_a_batched_line_is_written_without_waiting_for_more() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonFormatter("demo-svc"))
    handler.handle(logging.makeLogRecord({"msg": "alone"}))
    deadline = time.monotonic() + 5
    while "alone" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert json.loads(stream.getvalue())["msg"] == "alone"


def test_configuring_batched_logging_twice_keeps_one_writer() -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    try:
        configure_logging("demo-svc", batched=True)
        first = root.handlers[0]
        configure_logging("other-svc", batched=True)
        assert root.handlers == [first]
        assert isinstance(first, BatchingStreamHandler)
    finally:
        root.handlers[:] = saved

"""JSON logging: one object per line with ts, level, service, logger, msg, request/trace ids."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from taskhub_common.context import current_request_id

# Attributes every LogRecord has; anything else passed via `extra=` is emitted as a field.
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}


def _current_trace_ids() -> tuple[str | None, str | None]:
    """The active OpenTelemetry trace and span ids as hex, when tracing is on."""
    try:
        from opentelemetry import trace
    except ImportError:  # tracing is optional for the library's users
        return None, None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; `service` names the emitting process."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = _current_trace_ids()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "trace_id": getattr(record, "trace_id", None) or trace_id,
            "span_id": getattr(record, "span_id", None) or span_id,
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


# Lines queued before a caller writes them itself (bounds the memory when stdout blocks).
MAX_PENDING_LINES = 10_000
# How long the writer gathers lines after the first one of a batch.
LINGER_SECONDS = 0.05


class BatchingStreamHandler(logging.Handler):
    """Writes formatted lines to `stream` from a thread of its own, many per write.

    Lines are formatted by the caller (request and trace ids live in its context) and
    queued; the writer thread takes whatever has queued up and writes it at once. An API
    process logs a line per request, and one `write` per line made the reader of our
    stdout (supervisord natively, the container runtime in compose) wake up per line: at
    a thousand requests a second that reader used a tenth of a core. The first line queued
    wakes the writer, which lingers `LINGER_SECONDS` for the lines that follow (as nginx's
    `access_log ... flush=` does): woken per line, the writer took the interpreter lock
    from the event loop once per request. A line is out at most that long after it was
    logged; `flush()` (called at exit and before a fork) writes what is queued.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._pending: deque[str] = deque()
        self._start_writer()
        os.register_at_fork(before=self.flush, after_in_child=self._start_writer)

    def _start_writer(self) -> None:
        # Also after a fork: the child has no writer thread, and its copy of the lock may
        # be held by the parent's.
        self._pending.clear()
        self._queued = threading.Event()
        self._writing = threading.Lock()
        thread = threading.Thread(target=self._write_forever, name="log-writer", daemon=True)
        thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._pending.append(self.format(record) + "\n")
            if not self._queued.is_set():  # a flag read; `set()` takes a lock and notifies
                self._queued.set()
            if len(self._pending) > MAX_PENDING_LINES:
                self.flush()  # the reader is not keeping up: wait for it, as a plain write would
        except Exception:  # logging must never raise into the caller
            self.handleError(record)

    def flush(self) -> None:
        with self._writing:
            lines = []
            while self._pending:
                lines.append(self._pending.popleft())
            if lines:
                self.stream.write("".join(lines))
            self.stream.flush()

    def _write_forever(self) -> None:
        while True:
            self._queued.wait()
            time.sleep(LINGER_SECONDS)
            # Cleared before the queue is taken: a line queued after this sets it again.
            self._queued.clear()
            try:
                self.flush()
            except (OSError, ValueError):  # stdout closed or gone: nothing left to tell
                return


# Loggers that frameworks configure themselves; they are pointed at the root JSON handler.
_FRAMEWORK_LOGGERS = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "gunicorn.error",
    "gunicorn.access",
    "celery",
    "arq",
)


def configure_logging(service: str, level: str = "INFO", *, batched: bool = False) -> None:
    """Send every log record of this process to stdout as JSON lines.

    `batched`: through a `BatchingStreamHandler` (the API services, a line per request).
    """
    root = logging.getLogger()
    handler: logging.Handler
    if not batched:
        handler = logging.StreamHandler(sys.stdout)
    elif isinstance(current := next(iter(root.handlers), None), BatchingStreamHandler):
        handler = current  # configured before (another app in this process): one writer
    else:
        handler = BatchingStreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _FRAMEWORK_LOGGERS:
        framework_logger = logging.getLogger(name)
        framework_logger.handlers[:] = []
        framework_logger.propagate = True
    # Our own middleware logs each request; uvicorn's access line would be a duplicate.
    logging.getLogger("uvicorn.access").disabled = True

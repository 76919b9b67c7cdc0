"""Pure-ASGI middleware for request ids and one access log line per request.

Pure ASGI (not BaseHTTPMiddleware) because it runs on every request: it adds no task
switches and keeps streaming responses streaming.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskhub_common.context import reset_request_id, set_request_id
from taskhub_common.errors import ServiceUnavailable, error_response
from taskhub_common.outages import OUTAGE_RETRY_AFTER_SECONDS, unavailable_dependency
from taskhub_common.tracing import current_trace_id

REQUEST_ID_HEADER = "x-request-id"
# Lets a caller (or the e2e report) jump from a response straight to its trace.
TRACE_ID_HEADER = "x-trace-id"
# A client's request id is kept only when it is a plain token: it ends up in logs.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

access_logger = logging.getLogger("taskhub.access")
logger = logging.getLogger(__name__)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.match(candidate) else None
    return None


def _error_envelope(error: Exception) -> Response:
    """503 with `Retry-After` when a dependency is unreachable (one warning line, it is not
    a bug of ours), else the 500 envelope with the traceback in the log."""
    dependency = unavailable_dependency(error)
    if dependency is None:
        logger.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "An internal error occurred.")
    logger.warning(
        "dependency unavailable",
        extra={"dependency": dependency, "error": type(error).__name__},
    )
    outage = ServiceUnavailable(
        f"The {dependency} is unavailable; try again shortly.",
        retry_after_seconds=OUTAGE_RETRY_AFTER_SECONDS,
    )
    return error_response(outage.status_code, outage.code, outage.message, headers=outage.headers)


class RequestContextMiddleware:
    """Keeps or creates `X-Request-ID`, exposes it to logs, echoes it, logs the request."""

    def __init__(self, app: ASGIApp, *, quiet_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_code = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                trace_id = current_trace_id()
                if trace_id:
                    headers[TRACE_ID_HEADER] = trace_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as error:
            # Handled here rather than by Starlette's outermost ServerErrorMiddleware so the
            # envelope still carries the request id. Nothing internal reaches the client.
            if response_started:
                logger.exception("unhandled error after the response started")
                raise
            await _error_envelope(error)(scope, receive, send_with_request_id)
        finally:
            if scope["path"] not in self.quiet_paths:
                access_logger.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status_code,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            reset_request_id(token)

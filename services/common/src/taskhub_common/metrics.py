"""Prometheus metrics: the HTTP RED histogram, in-flight gauge, and the `/metrics` endpoint.

Names follow the OpenTelemetry HTTP semantic conventions (seconds, `http_route` as the route
template). Under a multi-process server (gunicorn workers, Celery prefork) set
`PROMETHEUS_MULTIPROC_DIR` and the endpoint aggregates every process's samples.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Fine around the latencies we target (p50 of a few ms, p99 under 150 ms) so that
# histogram_quantile interpolates within narrow buckets where it matters.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.035, 0.05, 0.075,
    0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

HTTP_REQUEST_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests.",
    ["http_request_method", "http_route", "http_response_status_code"],
    buckets=LATENCY_BUCKETS,
)
HTTP_ACTIVE_REQUESTS = Gauge(
    "http_server_active_requests",
    "Number of HTTP server requests in flight.",
    ["http_request_method"],
    multiprocess_mode="livesum",
)

# Requests that matched no route are folded into one label value to bound cardinality.
UNMATCHED_ROUTE = "unmatched"


class PrometheusMiddleware:
    """Observes every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, *, skip_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.skip_paths = skip_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip_paths:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status_code = 500
        in_flight = HTTP_ACTIVE_REQUESTS.labels(method)

        async def send_recording_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        in_flight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            in_flight.dec()
            route = scope.get("route")
            route_template = getattr(route, "path", None) or UNMATCHED_ROUTE
            HTTP_REQUEST_DURATION.labels(method, route_template, str(status_code)).observe(
                time.perf_counter() - started
            )


def render_metrics() -> tuple[bytes, str]:
    """Exposition text for this process, or for all processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


async def metrics_endpoint(_: Request) -> Response:
    body, content_type = render_metrics()
    return Response(body, media_type=content_type)

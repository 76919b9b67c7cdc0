"""The app factory: every service's `main.py` is a call to `create_app`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import swagger_ui
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Lifespan

from taskhub_common.cors import EnvelopeCORSMiddleware
from taskhub_common.errors import install_error_handlers
from taskhub_common.health import ReadinessCheck, health_router
from taskhub_common.logging import configure_logging
from taskhub_common.metrics import PrometheusMiddleware, metrics_endpoint
from taskhub_common.middleware import RequestContextMiddleware
from taskhub_common.openapi import operation_id
from taskhub_common.settings import ServiceSettings
from taskhub_common.tracing import ServerSpanMiddleware, configure_tracing

CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"]
CORS_EXPOSED_HEADERS = ["X-Request-ID", "Location", "Retry-After", "RateLimit", "RateLimit-Policy"]
# Swagger UI's assets, shipped in a wheel: the docs pages work without reaching a CDN.
SWAGGER_UI_STATIC = Path(swagger_ui.__file__).parent / "static"


def _mount_docs(app: FastAPI, prefix: str, title: str) -> None:
    """Swagger UI at `{prefix}/docs`, its assets served by the service itself."""
    static_url = f"{prefix}/docs/static"
    app.mount(static_url, StaticFiles(directory=SWAGGER_UI_STATIC), name=f"{prefix}-docs-static")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    async def swagger_ui_page() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{prefix}/openapi.json",
            title=f"{title} - API docs",
            swagger_js_url=f"{static_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{static_url}/swagger-ui.css",
            swagger_favicon_url=f"{static_url}/favicon-32x32.png",
        )


def _freezing_startup_objects(lifespan: Lifespan[FastAPI] | None) -> Lifespan[FastAPI]:
    """`lifespan`, then moving every object alive at start-up out of the collector's sight.

    Modules, routes, engines and caches live as long as the process, yet each full garbage
    collection walks all of them: under load that made requests wait tens of milliseconds
    now and then (the p99), and cost CPU on every request. `gc.freeze()` leaves them out of
    all later collections; objects created while serving are collected as before.
    """

    @asynccontextmanager
    async def lifespan_then_freeze(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app) if lifespan else _no_lifespan():
            gc.collect()  # garbage of the start-up need not live forever
            gc.freeze()
            yield

    return lifespan_then_freeze


@asynccontextmanager
async def _no_lifespan() -> AsyncIterator[None]:
    yield


def create_app(
    settings: ServiceSettings,
    *,
    prefix: str,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    readiness: Mapping[str, ReadinessCheck],
    lifespan: Lifespan[FastAPI] | None = None,
    version: str = "0.1.0",
) -> FastAPI:
    """A FastAPI app serving everything under `prefix` (`/auth`, `/tasks`, `/notify`).

    Routes carry the prefix themselves, so the gateway proxies paths unchanged and
    `{prefix}/docs` loads `{prefix}/openapi.json` both directly and through the gateway.
    """
    configure_logging(settings.service_name, settings.log_level, batched=True)
    configure_tracing(settings.service_name)
    quiet = frozenset({f"{prefix}/healthz", f"{prefix}/metrics"})
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        docs_url=None,
        openapi_url=f"{prefix}/openapi.json",
        redoc_url=None,
        # `tasks.list`, not `list_tasks_tasks_get`: what generated clients name methods after.
        generate_unique_id_function=operation_id,
        lifespan=_freezing_startup_objects(lifespan),
        # FastAPI's own OpenTelemetry is off: `ServerSpanMiddleware` makes the server span
        # for less, and Prometheus and our JSON logs have the metrics and log records.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    _mount_docs(app, prefix, title)
    app.include_router(health_router(prefix, readiness))
    app.add_route(f"{prefix}/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)

    # Added innermost first: CORS, metrics, the request context, then the server span
    # around everything, so logs and X-Trace-ID see its ids.
    app.add_middleware(
        EnvelopeCORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=CORS_ALLOWED_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
    )
    app.add_middleware(PrometheusMiddleware, skip_paths=frozenset({f"{prefix}/metrics"}))
    app.add_middleware(RequestContextMiddleware, quiet_paths=quiet)
    app.add_middleware(ServerSpanMiddleware, untraced_paths=quiet | {f"{prefix}/readyz"})
    return app

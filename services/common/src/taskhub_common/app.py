"""The app factory: every service's `main.py` is a call to `create_app`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from taskhub_common.settings import ServiceSettings
from taskhub_common.tracing import configure_tracing, instrument_app

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
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name)
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        docs_url=None,
        openapi_url=f"{prefix}/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    _mount_docs(app, prefix, title)
    app.include_router(health_router(prefix, readiness))
    app.add_route(f"{prefix}/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)

    # Added innermost first: CORS, then metrics, then the request context around everything.
    app.add_middleware(
        EnvelopeCORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=CORS_ALLOWED_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
    )
    quiet = frozenset({f"{prefix}/healthz", f"{prefix}/metrics"})
    app.add_middleware(PrometheusMiddleware, skip_paths=frozenset({f"{prefix}/metrics"}))
    app.add_middleware(RequestContextMiddleware, quiet_paths=quiet)
    # Outermost: the server span is active for everything above, so logs and the
    # X-Trace-ID header see its ids.
    instrument_app(app)
    return app

"""The app factory: every service's `main.py` is a call to `create_app`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import Lifespan

from taskhub_common.errors import install_error_handlers
from taskhub_common.health import ReadinessCheck, health_router
from taskhub_common.logging import configure_logging
from taskhub_common.metrics import PrometheusMiddleware, metrics_endpoint
from taskhub_common.middleware import RequestContextMiddleware
from taskhub_common.settings import ServiceSettings

CORS_ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"]
CORS_EXPOSED_HEADERS = ["X-Request-ID", "Location", "Retry-After", "RateLimit", "RateLimit-Policy"]


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
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        docs_url=f"{prefix}/docs",
        openapi_url=f"{prefix}/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router(prefix, readiness))
    app.add_route(f"{prefix}/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)

    # Added innermost first: CORS, then metrics, then the request context around everything.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=CORS_ALLOWED_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
    )
    quiet = frozenset({f"{prefix}/healthz", f"{prefix}/metrics"})
    app.add_middleware(PrometheusMiddleware, skip_paths=frozenset({f"{prefix}/metrics"}))
    app.add_middleware(RequestContextMiddleware, quiet_paths=quiet)
    return app

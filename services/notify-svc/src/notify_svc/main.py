"""ASGI entry point of TaskHub notify-svc: `uvicorn notify_svc.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from notify_svc.api.routers import ROUTERS
from notify_svc.clients.auth import auth_client
from notify_svc.core.config import get_settings
from notify_svc.db.session import kit
from notify_svc.worker.dispatch import arq_pool, celery_producer
from notify_svc.worker.tracing import instrument_celery_producer
from taskhub_common.app import create_app


@asynccontextmanager
async def producers() -> AsyncIterator[None]:
    """The Celery and ARQ producers jobs are queued with, and the recipients' lookup."""
    instrument_celery_producer(celery_producer())
    try:
        yield
    finally:
        await auth_client.close()
        await arq_pool.close()


lifespan = kit.lifespan(producers)

app = create_app(
    get_settings(),
    prefix="/notify",
    title="TaskHub notify-svc",
    description=(
        "E-mail and webhook notification jobs, delivered by workers with retries and dead letters."
    ),
    routers=ROUTERS,
    readiness=kit.readiness,
    lifespan=lifespan,
)

"""ASGI entry point of TaskHub task-svc: `uvicorn task_svc.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from task_svc.api.deps import token_verifier
from task_svc.api.routers import ROUTERS
from task_svc.core.config import Settings, get_settings
from task_svc.core.http import close_http_client, http_client
from task_svc.db.session import database, read_pool, redis
from task_svc.services.outbox_relay import OutboxRelay
from taskhub_common.app import create_app
from taskhub_common.tracing import instrument_clients


def build_relay(settings: Settings) -> OutboxRelay:
    return OutboxRelay(
        transaction=database.transaction,
        client=http_client(),
        notify_url=settings.notify_url,
        internal_token=settings.internal_token.get_secret_value(),
        batch_size=settings.outbox_batch_size,
        poll_interval_seconds=settings.outbox_poll_interval_seconds,
        backoff_base_seconds=settings.outbox_backoff_base_seconds,
        backoff_max_seconds=settings.outbox_backoff_max_seconds,
        max_attempts=settings.outbox_max_attempts,
        outage_poll_max_seconds=settings.outbox_outage_poll_max_seconds,
        claim_seconds=settings.outbox_claim_seconds,
        send_timeout_seconds=settings.outbox_send_timeout_seconds,
    )


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    instrument_clients(database.engine)
    relay_task = None
    if settings.outbox_relay_enabled:
        relay_task = asyncio.create_task(build_relay(settings).run(), name="outbox-relay")
    try:
        yield
    finally:
        if relay_task is not None:
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
        await close_http_client()
        token_verifier.cache_clear()  # it holds the client just closed
        await redis.aclose()
        await database.dispose()
        await read_pool.close()


app = create_app(
    get_settings(),
    prefix="/tasks",
    title="TaskHub task-svc",
    description=(
        "Tasks with tags, filters, pagination, bulk status changes and a per-user creation "
        "limit. Completed tasks and deadline changes are relayed to notify-svc as events."
    ),
    routers=ROUTERS,
    readiness={"database": database.ping, "redis": redis.ping},
    lifespan=lifespan,
)

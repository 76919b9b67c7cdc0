"""ASGI entry point of TaskHub task-svc: `uvicorn task_svc.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from task_svc.api.routers import ROUTERS
from task_svc.core.config import Settings, get_settings
from task_svc.db.session import database, kit, read_pool
from task_svc.services.outbox_relay import OutboxRelay
from taskhub_common.app import create_app


def build_relay(settings: Settings) -> OutboxRelay:
    return OutboxRelay(
        transaction=database.transaction,
        client=kit.http_client(),
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
async def read_pool_closed_at_exit() -> AsyncIterator[None]:
    try:
        yield
    finally:
        await read_pool.close()


@asynccontextmanager
async def outbox_relay() -> AsyncIterator[None]:
    """The relay runs as long as the app, unless switched off (`TASKS_OUTBOX_RELAY_ENABLED`)."""
    settings = get_settings()
    if not settings.outbox_relay_enabled:
        yield
        return
    relay_task = asyncio.create_task(build_relay(settings).run(), name="outbox-relay")
    try:
        yield
    finally:
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task


lifespan = kit.lifespan(read_pool_closed_at_exit, outbox_relay)

app = create_app(
    get_settings(),
    prefix="/tasks",
    title="TaskHub task-svc",
    description=(
        "Tasks with tags, filters, pagination, bulk status changes and a per-user creation "
        "limit. Completed tasks and deadline changes are relayed to notify-svc as events."
    ),
    routers=ROUTERS,
    readiness=kit.readiness,
    lifespan=lifespan,
)

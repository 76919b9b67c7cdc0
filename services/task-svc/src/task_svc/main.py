"""ASGI entry point of TaskHub task-svc: `uvicorn task_svc.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from task_svc.api.routers import ROUTERS
from task_svc.core.config import get_settings
from task_svc.db.session import database, redis
from taskhub_common.app import create_app


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await redis.aclose()
    await database.dispose()


app = create_app(
    get_settings(),
    prefix="/tasks",
    title="TaskHub task-svc",
    description=(
        "Tasks with tags, filters, pagination, bulk status changes and a per-user creation limit."
    ),
    routers=ROUTERS,
    readiness={"database": database.ping, "redis": redis.ping},
    lifespan=lifespan,
)

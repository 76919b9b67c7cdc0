"""ASGI entry point of TaskHub auth-svc: `uvicorn auth_svc.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from auth_svc.api.routers import ROUTERS
from auth_svc.core.config import get_settings
from auth_svc.db.session import database, redis
from auth_svc.services.bootstrap import prepare
from taskhub_common.app import create_app
from taskhub_common.tracing import instrument_clients


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    instrument_clients(database.engine)
    await prepare(get_settings())
    yield
    await redis.aclose()
    await database.dispose()


app = create_app(
    get_settings(),
    prefix="/auth",
    title="TaskHub auth-svc",
    description="Users, RS256 access and rotating refresh tokens, roles and the login audit.",
    routers=ROUTERS,
    readiness={"database": database.ping, "redis": redis.ping},
    lifespan=lifespan,
)

"""ASGI entry point of TaskHub auth-svc: `uvicorn auth_svc.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from auth_svc.api.routers import ROUTERS
from auth_svc.core.config import get_settings
from auth_svc.db.session import kit
from auth_svc.services.bootstrap import prepare
from taskhub_common.app import create_app


@asynccontextmanager
async def prepared() -> AsyncIterator[None]:
    """Signing keys and the bootstrap admin exist before the first request."""
    await prepare(get_settings())
    yield


lifespan = kit.lifespan(prepared)

app = create_app(
    get_settings(),
    prefix="/auth",
    title="TaskHub auth-svc",
    description="Users, RS256 access and rotating refresh tokens, roles and the login audit.",
    routers=ROUTERS,
    readiness=kit.readiness,
    lifespan=lifespan,
)

"""Liveness (`/healthz`) and readiness (`/readyz`: the service's DB and Redis) endpoints."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from pydantic import BaseModel

from taskhub_common.errors import ServiceUnavailable, error_responses

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[object]]

# A dependency that cannot answer within this time counts as down.
CHECK_TIMEOUT_SECONDS = 2.0


class HealthStatus(BaseModel):
    status: str = "ok"
    checks: dict[str, str] | None = None


async def _passes(name: str, check: ReadinessCheck) -> bool:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "not ready", whatever the driver raised
        logger.warning("readiness check failed", extra={"check": name, "error": type(exc).__name__})
        return False
    return True


def health_router(prefix: str, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    """`{prefix}/healthz` answers while the process runs; `{prefix}/readyz` runs `checks`."""
    router = APIRouter(prefix=prefix, tags=["health"])

    @router.get("/healthz", response_model=HealthStatus, response_model_exclude_none=True)
    async def healthz() -> HealthStatus:
        return HealthStatus()

    @router.get("/readyz", response_model=HealthStatus, responses=error_responses(503))
    async def readyz() -> HealthStatus:
        names = list(checks)
        results = await asyncio.gather(*(_passes(name, checks[name]) for name in names))
        failing = [name for name, ok in zip(names, results, strict=True) if not ok]
        if failing:
            raise ServiceUnavailable(f"Not ready: {', '.join(failing)} unavailable.")
        return HealthStatus(checks=dict.fromkeys(names, "ok"))

    return router

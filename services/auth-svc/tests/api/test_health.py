"""Liveness and readiness of auth-svc (its database and Redis)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_readiness_checks_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_liveness(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/healthz")
    assert response.json() == {"status": "ok"}


async def test_the_openapi_document_is_served_under_the_prefix(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/auth/openapi.json")).json()
    assert "/auth/login" in spec["paths"]
    assert "429" in spec["paths"]["/auth/login"]["post"]["responses"]

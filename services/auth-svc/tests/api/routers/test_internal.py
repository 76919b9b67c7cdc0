"""GET /internal/users/{id}: other services' user lookup, behind the internal token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from auth_svc.core.config import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def internal_headers() -> dict[str, str]:
    return {"X-Internal-Token": get_settings().internal_token.get_secret_value()}


async def test_a_service_reads_a_user(
    client: httpx.AsyncClient, user: Any, internal_headers: dict[str, str]
) -> None:
    response = await client.get(f"/internal/users/{user.id}", headers=internal_headers)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "email": user.email,
        "name": "Test User",
        "role": "user",
    }


async def test_an_unknown_user_is_404(
    client: httpx.AsyncClient, internal_headers: dict[str, str]
) -> None:
    response = await client.get(f"/internal/users/{uuid.uuid4()}", headers=internal_headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("headers", [{}, {"X-Internal-Token": "guess"}], ids=["none", "wrong"])
async def test_the_internal_token_is_required(
    client: httpx.AsyncClient, user: Any, headers: dict[str, str]
) -> None:
    response = await client.get(f"/internal/users/{user.id}", headers=headers)
    assert response.status_code == 401
    assert user.email not in response.text


async def test_a_user_token_is_not_an_internal_token(client: httpx.AsyncClient, user: Any) -> None:
    response = await client.get(f"/internal/users/{user.id}", headers=user.headers)
    assert response.status_code == 401


async def test_internal_routes_are_served_but_not_published(
    client: httpx.AsyncClient, user: Any, internal_headers: dict[str, str]
) -> None:
    served = await client.get(f"/internal/users/{user.id}", headers=internal_headers)
    spec = (await client.get("/auth/openapi.json")).json()

    assert served.status_code == 200
    assert [path for path in spec["paths"] if "/internal" in path] == []
    assert "InternalUser" not in spec["components"]["schemas"]

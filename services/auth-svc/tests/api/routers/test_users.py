"""GET /auth/users and PATCH /auth/users/{id}: administrators only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_users_are_listed_for_admins_in_pages(
    client: httpx.AsyncClient, admin: Any, make_user: Any
) -> None:
    for _ in range(3):
        await make_user()

    first = await client.get("/auth/users", params={"limit": 2}, headers=admin.headers)
    second = await client.get("/auth/users", params={"limit": 2, "page": 2}, headers=admin.headers)

    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["page"], page["limit"]) == (1, 2)
    assert page["total"] >= 4
    assert len(page["items"]) == 2
    assert set(page["items"][0]) == {"id", "email", "name", "role", "created_at"}
    assert "password_hash" not in first.text
    first_ids = {item["id"] for item in page["items"]}
    assert first_ids.isdisjoint(item["id"] for item in second.json()["items"])


async def test_users_listing_is_forbidden_to_users(client: httpx.AsyncClient, user: Any) -> None:
    response = await client.get("/auth/users", headers=user.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_users_listing_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/users")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "params",
    [{"limit": 101}, {"limit": 0}, {"page": 0}, {"page": "x"}, {"page": 10**30}],
)
async def test_paging_outside_the_bounds_is_422(
    client: httpx.AsyncClient, admin: Any, params: dict[str, Any]
) -> None:
    response = await client.get("/auth/users", params=params, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_an_admin_changes_a_role(client: httpx.AsyncClient, admin: Any, user: Any) -> None:
    response = await client.patch(
        f"/auth/users/{user.id}", json={"role": "admin"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin"
    assert response.json()["id"] == str(user.id)

    back = await client.patch(
        f"/auth/users/{user.id}", json={"role": "user"}, headers=admin.headers
    )
    assert back.json()["role"] == "user"


async def test_a_user_cannot_change_roles(client: httpx.AsyncClient, user: Any) -> None:
    response = await client.patch(
        f"/auth/users/{user.id}", json={"role": "admin"}, headers=user.headers
    )
    assert response.status_code == 403


async def test_an_admin_cannot_demote_themselves(client: httpx.AsyncClient, admin: Any) -> None:
    response = await client.patch(
        f"/auth/users/{admin.id}", json={"role": "user"}, headers=admin.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


async def test_an_unknown_user_is_404(client: httpx.AsyncClient, admin: Any) -> None:
    response = await client.patch(
        f"/auth/users/{uuid.uuid4()}", json={"role": "admin"}, headers=admin.headers
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("path_id", "payload"),
    [
        (None, {"role": "superuser"}),
        (None, {"role": "admin", "email": "new@example.com"}),
        (None, {}),
        ("not-a-uuid", {"role": "admin"}),
    ],
)
async def test_bad_role_changes_are_422(
    client: httpx.AsyncClient, admin: Any, user: Any, path_id: str | None, payload: dict[str, Any]
) -> None:
    response = await client.patch(
        f"/auth/users/{path_id or user.id}", json=payload, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"

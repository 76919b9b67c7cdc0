"""GET /auth/users and PATCH /auth/users/{id}: administrators only."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.api import deps
from auth_svc.api.routers import ROUTERS
from auth_svc.models.user import User
from taskhub_common.auth import Role

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


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return any(sub.call is call or _depends_on(sub, call) for sub in dependant.dependencies)


def admin_routes() -> list[tuple[str, str]]:
    """Every route of the app behind the `AdminUser` dependency, found by inspection."""
    return sorted(
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and _depends_on(route.dependant, deps._admin)
        for method in route.methods or ()
    )


ADMIN_ROUTES = admin_routes()


def test_the_admin_routes_are_all_covered_below() -> None:
    assert ADMIN_ROUTES == [
        ("DELETE", "/auth/users/{user_id}/api-keys/{key_id}"),
        ("GET", "/auth/audit"),
        ("GET", "/auth/users"),
        ("GET", "/auth/users/{user_id}/api-keys"),
        ("PATCH", "/auth/users/{user_id}"),
    ]


async def call_admin_route(
    client: httpx.AsyncClient, method: str, path: str, caller: Any
) -> httpx.Response:
    url = path.replace("{user_id}", str(caller.id))
    if "{key_id}" in url:
        # One of the caller's own keys (a deleted caller has none: any id will do).
        created = await client.post(
            "/auth/api-keys", json={"name": "k", "scopes": ["tasks:read"]}, headers=caller.headers
        )
        key_id = created.json()["id"] if created.status_code == 201 else str(uuid.uuid4())
        url = url.replace("{key_id}", key_id)
    return await client.request(
        method,
        url,
        json={"role": "admin"} if method == "PATCH" else None,
        headers=caller.headers,
    )


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_an_admin_token_of_a_demoted_user_is_refused(
    client: httpx.AsyncClient, user: Any, session: AsyncSession, method: str, path: str
) -> None:
    # The token still says admin; the database says user.
    stale = dataclasses.replace(user, role=Role.ADMIN)

    response = await call_admin_route(client, method, path, stale)

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "FORBIDDEN"
    role = await session.scalar(
        select(User.role).where(User.id == user.id).execution_options(populate_existing=True)
    )
    assert role == "user"


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_an_admin_token_of_a_deleted_user_is_401(
    client: httpx.AsyncClient, admin: Any, session: AsyncSession, method: str, path: str
) -> None:
    await session.execute(delete(User).where(User.id == admin.id))

    response = await call_admin_route(client, method, path, admin)

    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_a_promoted_user_is_admin_at_once(
    client: httpx.AsyncClient, user: Any, session: AsyncSession, method: str, path: str
) -> None:
    await session.execute(update(User).where(User.id == user.id).values(role="admin"))
    fresh_admin = dataclasses.replace(user, role=Role.ADMIN)

    response = await call_admin_route(client, method, path, fresh_admin)

    assert response.status_code in (200, 204), response.text


async def test_a_demoted_admin_cannot_promote_himself_again(
    client: httpx.AsyncClient, admin: Any, user: Any, log_in: Any
) -> None:
    assert (
        await client.patch(f"/auth/users/{user.id}", json={"role": "admin"}, headers=admin.headers)
    ).status_code == 200
    tokens = await log_in(client, user)
    old_token = {"Authorization": f"Bearer {tokens['access']}"}
    assert (
        await client.patch(f"/auth/users/{user.id}", json={"role": "user"}, headers=admin.headers)
    ).status_code == 200

    again = await client.patch(f"/auth/users/{user.id}", json={"role": "admin"}, headers=old_token)

    assert again.status_code == 403
    assert (await client.get("/auth/users", headers=old_token)).status_code == 403
    assert (await client.get("/auth/audit", headers=old_token)).status_code == 403
    refreshed = await client.post("/auth/refresh", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401


@pytest.mark.parametrize("new_role", [Role.ADMIN, Role.USER])
async def test_a_role_change_revokes_every_refresh_family_of_the_user(
    client: httpx.AsyncClient,
    admin: Any,
    make_user: Any,
    log_in: Any,
    session: AsyncSession,
    new_role: Role,
) -> None:
    old_role = Role.USER if new_role is Role.ADMIN else Role.ADMIN
    target = await make_user(old_role)
    laptop, phone = await log_in(client, target), await log_in(client, target)
    bystander = await log_in(client, admin)

    changed = await client.patch(
        f"/auth/users/{target.id}", json={"role": new_role.value}, headers=admin.headers
    )

    assert changed.status_code == 200
    for pair in (laptop, phone):
        refused = await client.post("/auth/refresh", json={"refresh": pair["refresh"]})
        assert refused.status_code == 401
    assert (
        await client.post("/auth/refresh", json={"refresh": bystander["refresh"]})
    ).status_code == 200
    relogged = await log_in(client, dataclasses.replace(target, role=new_role))
    listing = await client.get(
        "/auth/users", headers={"Authorization": f"Bearer {relogged['access']}"}
    )
    assert listing.status_code == (200 if new_role is Role.ADMIN else 403)


async def test_setting_the_same_role_keeps_the_users_sessions(
    client: httpx.AsyncClient, admin: Any, user: Any, log_in: Any
) -> None:
    pair = await log_in(client, user)

    same = await client.patch(
        f"/auth/users/{user.id}", json={"role": "user"}, headers=admin.headers
    )

    assert same.status_code == 200
    assert (
        await client.post("/auth/refresh", json={"refresh": pair["refresh"]})
    ).status_code == 200

"""/auth/api-keys (each user's own keys), /auth/users/{id}/api-keys (admins), and the
internal lookup services resolve keys with."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.config import get_settings
from auth_svc.models.api_key import ApiKey
from taskhub_common.api_keys import Scope, is_well_formed, key_hash

pytestmark = pytest.mark.integration

INTERNAL = {"X-Internal-Token": get_settings().internal_token.get_secret_value()}


async def create_key(
    client: httpx.AsyncClient, who: Any, scopes: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    body = {"name": "ci", "scopes": scopes or [Scope.TASKS_READ.value], **fields}
    response = await client.post("/auth/api-keys", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def verify(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.post("/internal/api-keys/verify", json={"key": key}, headers=INTERNAL)


async def test_a_created_key_shows_its_secret_once_and_stores_only_its_hmac(
    client: httpx.AsyncClient, user: Any, session: AsyncSession
) -> None:
    created = await create_key(client, user, ["tasks:write", "tasks:read", "tasks:read"])

    secret = created.pop("key")
    assert is_well_formed(secret)
    assert secret.startswith("thk_")
    assert created["prefix"] == secret[:8]
    assert created["scopes"] == ["tasks:read", "tasks:write"]
    assert created["user_id"] == str(user.id)
    listed = await client.get("/auth/api-keys", headers=user.headers)
    assert listed.json()["items"] == [created]
    assert secret not in listed.text
    assert secret[8:] not in listed.text

    row = await session.scalar(select(ApiKey).where(ApiKey.id == uuid.UUID(created["id"])))
    assert row is not None
    secret_bytes = get_settings().api_key_hash_secret.get_secret_value().encode()
    assert row.key_hash == key_hash(secret, secret_bytes)
    assert all(secret[8:] not in str(value) for value in vars(row).values())


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["admin"]},
        {"name": "x", "scopes": ["tasks:admin"]},
        {"name": "x", "scopes": ["users:write"]},
        {"name": "x", "scopes": []},
        {"name": "x"},
        {"name": "", "scopes": ["tasks:read"]},
        {"name": "x" * 101, "scopes": ["tasks:read"]},
        {"name": "x", "scopes": ["tasks:read"], "expires_at": "2020-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["tasks:read"], "user_id": str(uuid.uuid4())},
        {"name": "x", "scopes": ["tasks:read"], "role": "admin"},
    ],
    ids=[
        "admin-scope",
        "tasks-admin",
        "unknown-service",
        "no-scope",
        "scopes-missing",
        "empty-name",
        "long-name",
        "expired-already",
        "user-id",
        "role",
    ],
)
async def test_a_key_body_outside_the_contract_is_a_422(
    client: httpx.AsyncClient, user: Any, body: dict[str, Any]
) -> None:
    response = await client.post("/auth/api-keys", json=body, headers=user.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_live_keys_per_user_are_limited_and_a_revoked_one_frees_a_place(
    client: httpx.AsyncClient, user: Any
) -> None:
    limit = get_settings().api_key_max_per_user
    keys = [await create_key(client, user) for _ in range(limit)]

    refused = await client.post(
        "/auth/api-keys", json={"name": "one more", "scopes": ["tasks:read"]}, headers=user.headers
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "API_KEY_LIMIT"

    revoked = await client.delete(f"/auth/api-keys/{keys[0]['id']}", headers=user.headers)
    assert revoked.status_code == 204
    await create_key(client, user)


async def test_an_owner_revokes_a_key_once_and_the_listing_keeps_it_as_audit(
    client: httpx.AsyncClient, user: Any
) -> None:
    created = await create_key(client, user)

    first = await client.delete(f"/auth/api-keys/{created['id']}", headers=user.headers)
    again = await client.delete(f"/auth/api-keys/{created['id']}", headers=user.headers)

    assert (first.status_code, again.status_code) == (204, 204)
    (item,) = (await client.get("/auth/api-keys", headers=user.headers)).json()["items"]
    assert item["revoked_at"] is not None
    assert item["revoked_by"] == str(user.id)
    assert (await verify(client, created["key"])).status_code == 404


async def test_another_users_key_or_an_unknown_one_is_not_found(
    client: httpx.AsyncClient, user: Any, make_user: Any
) -> None:
    other = await make_user()
    theirs = await create_key(client, other)

    for key_id in (theirs["id"], str(uuid.uuid4())):
        response = await client.delete(f"/auth/api-keys/{key_id}", headers=user.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NOT_FOUND"
    assert (await client.get("/auth/api-keys", headers=user.headers)).json()["items"] == []
    assert (await verify(client, theirs["key"])).status_code == 200


async def test_an_admin_lists_and_revokes_any_users_keys(
    client: httpx.AsyncClient, user: Any, admin: Any
) -> None:
    created = await create_key(client, user)

    listed = await client.get(f"/auth/users/{user.id}/api-keys", headers=admin.headers)
    revoked = await client.delete(
        f"/auth/users/{user.id}/api-keys/{created['id']}", headers=admin.headers
    )

    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert created["key"] not in listed.text
    assert revoked.status_code == 204
    (item,) = (await client.get("/auth/api-keys", headers=user.headers)).json()["items"]
    assert item["revoked_by"] == str(admin.id)
    assert (await verify(client, created["key"])).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/auth/users/{user}/api-keys"), ("delete", "/auth/users/{user}/api-keys/{key}")],
)
async def test_users_cannot_reach_others_keys_through_the_admin_routes(
    client: httpx.AsyncClient, user: Any, make_user: Any, method: str, path: str
) -> None:
    other = await make_user()
    theirs = await create_key(client, other)

    url = path.format(user=other.id, key=theirs["id"])
    response = await client.request(method, url, headers=user.headers)

    assert response.status_code == 403
    assert (await verify(client, theirs["key"])).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/auth/users/{user}/api-keys"), ("delete", "/auth/users/{user}/api-keys/{key}")],
)
async def test_the_admin_routes_answer_404_for_an_unknown_user(
    client: httpx.AsyncClient, admin: Any, method: str, path: str
) -> None:
    url = path.format(user=uuid.uuid4(), key=uuid.uuid4())
    response = await client.request(method, url, headers=admin.headers)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/auth/api-keys"), ("get", "/auth/api-keys"), ("get", "/auth/me")],
)
async def test_a_key_cannot_act_on_auth_svc_itself(
    client: httpx.AsyncClient, user: Any, method: str, path: str
) -> None:
    key = (await create_key(client, user, [scope.value for scope in Scope]))["key"]

    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        body = {"name": "minted", "scopes": ["tasks:read"]} if method == "post" else None
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, response.text


async def test_the_lookup_answers_the_owner_scopes_and_expiry_of_a_live_key(
    client: httpx.AsyncClient, user: Any
) -> None:
    expires_at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = await create_key(client, user, ["notify:read"], expires_at=expires_at)

    response = await verify(client, created["key"])

    assert response.status_code == 200
    assert response.json() == {
        "id": created["id"],
        "user_id": str(user.id),
        "scopes": ["notify:read"],
        "expires_at": created["expires_at"],
    }


async def test_the_lookup_refuses_an_expired_key(
    client: httpx.AsyncClient, user: Any, session: AsyncSession
) -> None:
    created = await create_key(client, user)
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == uuid.UUID(created["id"]))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )

    assert (await verify(client, created["key"])).status_code == 404


async def test_the_lookup_needs_the_internal_token(client: httpx.AsyncClient, user: Any) -> None:
    created = await create_key(client, user)
    response = await client.post("/internal/api-keys/verify", json={"key": created["key"]})
    assert response.status_code == 401


async def test_a_keys_use_is_recorded_at_most_once_per_interval(
    client: httpx.AsyncClient, user: Any, session: AsyncSession
) -> None:
    created = await create_key(client, user)
    key_id = uuid.UUID(created["id"])

    async def last_used() -> datetime | None:
        row = await session.scalar(
            select(ApiKey).where(ApiKey.id == key_id).execution_options(populate_existing=True)
        )
        assert row is not None
        return row.last_used_at

    await verify(client, created["key"])
    first = await last_used()
    await verify(client, created["key"])
    assert first is not None
    assert await last_used() == first

    interval = get_settings().api_key_last_used_interval_seconds
    earlier = first - timedelta(seconds=interval + 1)
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=earlier))
    await verify(client, created["key"])
    assert (await last_used() or earlier) > earlier
    (item,) = (await client.get("/auth/api-keys", headers=user.headers)).json()["items"]
    assert item["last_used_at"] is not None

"""POST /auth/refresh and /auth/logout: rotation, reuse detection, families, races."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.config import get_settings
from auth_svc.db.session import database
from auth_svc.models.refresh_token import RefreshTokenRecord
from auth_svc.services import auth as auth_service

pytestmark = pytest.mark.integration


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh": token})


async def logout(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/logout", json={"refresh": token})


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def outlive_the_grace(session: AsyncSession, user_id: Any) -> None:
    """Move the spending time of the user's spent tokens past the reuse grace window."""
    past = get_settings().refresh_reuse_grace_seconds + 1
    await session.execute(
        update(RefreshTokenRecord)
        .where(RefreshTokenRecord.user_id == user_id, RefreshTokenRecord.used_at.is_not(None))
        .values(used_at=func.clock_timestamp() - timedelta(seconds=past))
    )


async def test_a_refresh_token_buys_a_new_pair_once(
    client: httpx.AsyncClient, user: Any, log_in: Any
) -> None:
    first = await log_in(client, user)

    response = await refresh(client, first["refresh"])

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    second = response.json()
    assert second["token_type"] == "bearer"
    assert second["refresh"] != first["refresh"]
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {second['access']}"})
    assert me.json()["id"] == str(user.id)


async def test_reusing_a_spent_token_after_the_grace_window_revokes_the_whole_family(
    client: httpx.AsyncClient, user: Any, log_in: Any, session: AsyncSession
) -> None:
    first = await log_in(client, user)
    second = (await refresh(client, first["refresh"])).json()
    third = (await refresh(client, second["refresh"])).json()
    await outlive_the_grace(session, user.id)

    assert_unauthorized(await refresh(client, first["refresh"]))

    # The newest token of the family is dead too: the thief and the victim both log in again.
    assert_unauthorized(await refresh(client, third["refresh"]))
    records = (
        await session.scalars(
            select(RefreshTokenRecord).where(RefreshTokenRecord.user_id == user.id)
        )
    ).all()
    assert len(records) == 3
    assert all(record.revoked_at is not None for record in records)


async def test_other_families_survive_a_reuse(
    client: httpx.AsyncClient, user: Any, log_in: Any, session: AsyncSession
) -> None:
    laptop = await log_in(client, user)
    phone = await log_in(client, user)
    await refresh(client, laptop["refresh"])
    await outlive_the_grace(session, user.id)

    assert_unauthorized(await refresh(client, laptop["refresh"]))

    assert (await refresh(client, phone["refresh"])).status_code == 200


async def test_an_access_token_cannot_refresh(
    client: httpx.AsyncClient, user: Any, log_in: Any
) -> None:
    pair = await log_in(client, user)
    assert_unauthorized(await refresh(client, pair["access"]))
    # ... and that mistake does not cost the caller its session.
    assert (await refresh(client, pair["refresh"])).status_code == 200


async def test_an_expired_refresh_row_is_refused(
    client: httpx.AsyncClient, user: Any, log_in: Any, session: AsyncSession
) -> None:
    pair = await log_in(client, user)
    await session.execute(
        update(RefreshTokenRecord)
        .where(RefreshTokenRecord.user_id == user.id)
        .values(expires_at=RefreshTokenRecord.created_at)
    )

    assert_unauthorized(await refresh(client, pair["refresh"]))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
async def test_malformed_refresh_tokens(client: httpx.AsyncClient, token: str) -> None:
    response = await refresh(client, token)
    assert response.status_code in {401, 422}
    assert response.json()["error"]["code"] in {"UNAUTHORIZED", "VALIDATION_ERROR"}


async def test_refresh_rejects_unknown_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/refresh", json={"refresh": "x", "user_id": "y"})
    assert response.status_code == 422


async def test_a_token_reused_within_the_grace_window_buys_a_pair_of_the_same_family(
    client: httpx.AsyncClient, user: Any, log_in: Any, session: AsyncSession
) -> None:
    first = await log_in(client, user)
    winner = (await refresh(client, first["refresh"])).json()

    latecomer = await refresh(client, first["refresh"])

    assert latecomer.status_code == 200, latecomer.text
    sibling = latecomer.json()
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {sibling['access']}"})
    assert me.json()["id"] == str(user.id)
    # Both successors live on and rotate as usual; nothing was revoked.
    assert (await refresh(client, winner["refresh"])).status_code == 200
    assert (await refresh(client, sibling["refresh"])).status_code == 200
    records = (
        await session.scalars(
            select(RefreshTokenRecord).where(RefreshTokenRecord.user_id == user.id)
        )
    ).all()
    assert len({record.family_id for record in records}) == 1
    assert all(record.revoked_at is None for record in records)


async def test_without_a_grace_window_any_reuse_revokes_the_family(
    client: httpx.AsyncClient, user: Any, log_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_grace = get_settings().model_copy(update={"refresh_reuse_grace_seconds": 0})
    monkeypatch.setattr(auth_service, "get_settings", lambda: no_grace)
    first = await log_in(client, user)
    second = (await refresh(client, first["refresh"])).json()

    assert_unauthorized(await refresh(client, first["refresh"]))

    assert_unauthorized(await refresh(client, second["refresh"]))


async def test_a_revoked_token_gets_no_grace(
    client: httpx.AsyncClient, user: Any, log_in: Any
) -> None:
    first = await log_in(client, user)
    second = (await refresh(client, first["refresh"])).json()
    assert (await logout(client, second["refresh"])).status_code == 204

    assert_unauthorized(await refresh(client, first["refresh"]))


async def test_logout_revokes_the_family_and_is_idempotent(
    client: httpx.AsyncClient, user: Any, log_in: Any
) -> None:
    first = await log_in(client, user)
    second = (await refresh(client, first["refresh"])).json()

    response = await logout(client, second["refresh"])

    assert response.status_code == 204
    assert response.content == b""
    assert_unauthorized(await refresh(client, second["refresh"]))
    assert (await logout(client, second["refresh"])).status_code == 204
    assert (await logout(client, first["refresh"])).status_code == 204


async def test_logout_refuses_an_access_token(
    client: httpx.AsyncClient, user: Any, log_in: Any
) -> None:
    pair = await log_in(client, user)
    assert_unauthorized(await logout(client, pair["access"]))


# The tests below use real commits: the reuse revocation must survive the failing
# request's rollback, and a race needs two transactions.


@pytest.fixture
async def committed_account(
    committed_client: httpx.AsyncClient, committed_users: list[str]
) -> dict[str, str]:
    email = f"race-{uuid.uuid4().hex[:12]}@example.com"
    password = "race-password-1"
    committed_users.append(email)
    registered = await committed_client.post(
        "/auth/register", json={"email": email, "password": password, "name": "Racer"}
    )
    assert registered.status_code == 201
    return {"email": email, "password": password, "id": registered.json()["id"]}


async def committed_login(client: httpx.AsyncClient, account: dict[str, str]) -> dict[str, str]:
    response = await client.post(
        "/auth/login", json={"email": account["email"], "password": account["password"]}
    )
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


async def family_states(user_id: str) -> list[tuple[bool, bool]]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(RefreshTokenRecord)
            .where(RefreshTokenRecord.user_id == uuid.UUID(user_id))
            .order_by(RefreshTokenRecord.created_at)
        )
        return [(row.used_at is not None, row.revoked_at is not None) for row in rows]


async def test_the_reuse_revocation_is_committed(
    committed_client: httpx.AsyncClient, committed_account: dict[str, str]
) -> None:
    first = await committed_login(committed_client, committed_account)
    second = (await refresh(committed_client, first["refresh"])).json()
    async with database.transaction() as session:
        await outlive_the_grace(session, uuid.UUID(committed_account["id"]))

    assert_unauthorized(await refresh(committed_client, first["refresh"]))

    assert await family_states(committed_account["id"]) == [(True, True), (False, True)]
    assert_unauthorized(await refresh(committed_client, second["refresh"]))


async def test_concurrent_refreshes_with_one_token_all_succeed_and_the_family_survives(
    committed_client: httpx.AsyncClient, committed_account: dict[str, str]
) -> None:
    pair = await committed_login(committed_client, committed_account)

    responses = await asyncio.gather(
        *(refresh(committed_client, pair["refresh"]) for _ in range(4))
    )

    assert [response.status_code for response in responses] == [200] * 4
    # Exactly one spent the token; the others got siblings. Every successor still works.
    states = await family_states(committed_account["id"])
    assert states[0] == (True, False)
    assert sorted(states[1:]) == [(False, False)] * 4
    for response in responses:
        assert (await refresh(committed_client, response.json()["refresh"])).status_code == 200

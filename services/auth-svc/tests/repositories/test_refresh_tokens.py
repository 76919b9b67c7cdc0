"""auth_svc.repositories.refresh_tokens against the real test PostgreSQL (each test rolled
back)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.refresh_token import RefreshTokenRecord
from auth_svc.repositories import refresh_tokens as token_repository

from .conftest import NewUser, StoredUser

pytestmark = pytest.mark.integration


async def _issue(
    session: AsyncSession,
    user: StoredUser,
    *,
    family_id: uuid.UUID | None = None,
    lifetime: timedelta = timedelta(days=1),
) -> uuid.UUID:
    jti = uuid.uuid4()
    await token_repository.add(
        session,
        jti=jti,
        family_id=family_id or uuid.uuid4(),
        user_id=user.id,
        expires_at=datetime.now(UTC) + lifetime,
    )
    return jti


async def test_add_then_get_returns_the_record(session: AsyncSession, user: StoredUser) -> None:
    family = uuid.uuid4()
    jti = await _issue(session, user, family_id=family)
    record = await token_repository.get(session, jti)
    assert record is not None
    assert (record.family_id, record.user_id, record.used_at, record.revoked_at) == (
        family,
        user.id,
        None,
        None,
    )


async def test_get_of_an_unknown_jti_is_none(session: AsyncSession) -> None:
    assert await token_repository.get(session, uuid.uuid4()) is None


async def test_spend_marks_a_live_token_used_exactly_once(
    session: AsyncSession, user: StoredUser
) -> None:
    jti = await _issue(session, user)
    spent = await token_repository.spend(session, jti)
    assert spent is not None
    assert spent.jti == jti
    assert spent.used_at is not None
    assert await token_repository.spend(session, jti) is None


async def test_spend_refuses_unknown_revoked_and_expired_tokens(
    session: AsyncSession, user: StoredUser
) -> None:
    revoked_family = uuid.uuid4()
    revoked = await _issue(session, user, family_id=revoked_family)
    await token_repository.revoke_family(session, revoked_family)
    expired = await _issue(session, user, lifetime=timedelta(seconds=-1))
    assert await token_repository.spend(session, uuid.uuid4()) is None
    assert await token_repository.spend(session, revoked) is None
    assert await token_repository.spend(session, expired) is None


async def test_spent_within_finds_a_token_spent_inside_the_window(
    session: AsyncSession, user: StoredUser
) -> None:
    jti = await _issue(session, user)
    assert await token_repository.spent_within(session, jti, 10) is None  # not spent yet
    await token_repository.spend(session, jti)
    found = await token_repository.spent_within(session, jti, 10)
    assert found is not None
    assert found.jti == jti


async def test_spent_within_is_none_after_the_window_or_once_revoked(
    session: AsyncSession, user: StoredUser
) -> None:
    late, revoked = await _issue(session, user), await _issue(session, user)
    for jti in (late, revoked):
        await token_repository.spend(session, jti)
    await session.execute(
        update(RefreshTokenRecord)
        .where(RefreshTokenRecord.jti == late)
        .values(used_at=func.now() - timedelta(seconds=11))
    )
    await session.execute(
        update(RefreshTokenRecord)
        .where(RefreshTokenRecord.jti == revoked)
        .values(revoked_at=func.now())
    )
    assert await token_repository.spent_within(session, late, 10) is None
    assert await token_repository.spent_within(session, revoked, 10) is None


async def test_revoke_family_revokes_that_family_only_and_counts_once(
    session: AsyncSession, user: StoredUser
) -> None:
    family, other_family = uuid.uuid4(), uuid.uuid4()
    members = [await _issue(session, user, family_id=family) for _ in range(2)]
    outsider = await _issue(session, user, family_id=other_family)
    assert await token_repository.revoke_family(session, family) == 2
    assert await token_repository.revoke_family(session, family) == 0
    for jti in members:
        record = await token_repository.get(session, jti)
        assert record is not None
        assert record.revoked_at is not None
    kept = await token_repository.get(session, outsider)
    assert kept is not None
    assert kept.revoked_at is None


async def test_revoke_user_revokes_every_family_of_that_user_only(
    session: AsyncSession, make_user: NewUser
) -> None:
    user, other = await make_user(), await make_user()
    await _issue(session, user)
    await _issue(session, user)
    others = await _issue(session, other)
    assert await token_repository.revoke_user(session, user.id) == 2
    assert await token_repository.revoke_user(session, user.id) == 0
    kept = await token_repository.get(session, others)
    assert kept is not None
    assert kept.revoked_at is None

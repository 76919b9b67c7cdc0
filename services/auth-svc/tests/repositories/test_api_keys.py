"""auth_svc.repositories.api_keys against the real test PostgreSQL (each test rolled back)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.db.session import database
from auth_svc.models.api_key import ApiKey
from auth_svc.models.user import User
from auth_svc.repositories import api_keys as key_repository
from auth_svc.repositories import users as user_repository
from taskhub_common.auth import Role

from .conftest import NewUser, StoredUser, unique_email

pytestmark = pytest.mark.integration


async def _add(
    session: AsyncSession, owner: StoredUser, *, expires_at: datetime | None = None
) -> ApiKey:
    return await key_repository.add(
        session,
        user_id=owner.id,
        name="CI",
        key_hash=uuid.uuid4().hex * 2,  # 64 characters, unique
        prefix="thk_Ab12",
        scopes=["tasks:read"],
        expires_at=expires_at,
    )


async def test_add_returns_the_stored_key_neither_used_nor_revoked(
    session: AsyncSession, user: StoredUser
) -> None:
    key = await _add(session, user)
    assert (key.user_id, key.name, key.prefix, key.scopes) == (
        user.id,
        "CI",
        "thk_Ab12",
        ["tasks:read"],
    )
    assert key.created_at is not None
    assert key.last_used_at is None
    assert key.revoked_at is None


async def test_lock_owner_is_false_for_an_unknown_user(
    session: AsyncSession, user: StoredUser
) -> None:
    assert await key_repository.lock_owner(session, user.id) is True
    assert await key_repository.lock_owner(session, uuid.uuid4()) is False


# Tests ask for it before `session`: the user's removal then comes after the session's
# rollback released its lock (the other way round, the DELETE would wait for it forever).
@pytest.fixture
async def committed_user(committed_users: list[str]) -> uuid.UUID:
    """A user other connections see (removed afterwards by `committed_users`)."""
    email = unique_email("locked")
    committed_users.append(email)
    async with database.transaction() as db_session:
        created = await user_repository.insert_new(
            db_session, email=email, password_hash="hash", name="Locked", role=Role.USER
        )
        assert created is not None
    return created.id


async def test_lock_owner_holds_the_users_row_until_the_transaction_ends(
    committed_user: uuid.UUID, session: AsyncSession
) -> None:
    assert await key_repository.lock_owner(session, committed_user) is True
    async with database.engine.connect() as other:
        with pytest.raises(DBAPIError, match="could not obtain lock"):
            await other.execute(
                select(User.id).where(User.id == committed_user).with_for_update(nowait=True)
            )
        await other.rollback()
    await session.rollback()
    async with database.engine.connect() as other:
        await other.execute(text("SET LOCAL lock_timeout = '2s'"))
        freed = await other.scalar(
            select(User.id).where(User.id == committed_user).with_for_update()
        )
        assert freed == committed_user
        await other.rollback()


async def test_count_live_leaves_out_revoked_and_expired_keys(
    session: AsyncSession, make_user: NewUser
) -> None:
    owner, other = await make_user(), await make_user()
    assert await key_repository.count_live(session, owner.id) == 0
    await _add(session, owner)
    await _add(session, owner, expires_at=datetime.now(UTC) + timedelta(days=1))
    await _add(session, owner, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    revoked = await _add(session, owner)
    await key_repository.revoke(session, user_id=owner.id, key_id=revoked.id, actor_id=owner.id)
    await _add(session, other)
    assert await key_repository.count_live(session, owner.id) == 2


async def test_page_lists_every_key_of_the_user_newest_first_with_the_total(
    session: AsyncSession, make_user: NewUser
) -> None:
    owner, other = await make_user(), await make_user()
    keys = [await _add(session, owner) for _ in range(3)]
    await key_repository.revoke(session, user_id=owner.id, key_id=keys[0].id, actor_id=owner.id)
    await _add(session, other)
    # One transaction has one now(): spread the creation times so the order shows.
    for minutes, key in enumerate(keys):
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key.id)
            .values(created_at=func.now() + timedelta(minutes=minutes))
        )
    rows, total = await key_repository.page(session, user_id=owner.id, offset=0, limit=10)
    assert total == 3
    assert [row.id for row in rows] == [key.id for key in reversed(keys)]
    second, total_again = await key_repository.page(session, user_id=owner.id, offset=1, limit=1)
    assert total_again == 3
    assert [row.id for row in second] == [keys[1].id]


async def test_get_of_user_finds_only_the_owners_key(
    session: AsyncSession, make_user: NewUser
) -> None:
    owner, stranger = await make_user(), await make_user()
    key = await _add(session, owner)
    found = await key_repository.get_of_user(session, user_id=owner.id, key_id=key.id)
    assert found is not None
    assert found.id == key.id
    assert await key_repository.get_of_user(session, user_id=stranger.id, key_id=key.id) is None
    assert await key_repository.get_of_user(session, user_id=owner.id, key_id=uuid.uuid4()) is None


async def test_revoke_succeeds_once_and_records_who(
    session: AsyncSession, user: StoredUser, admin: StoredUser
) -> None:
    key = await _add(session, user)
    assert await key_repository.revoke(session, user_id=user.id, key_id=key.id, actor_id=admin.id)
    assert not await key_repository.revoke(
        session, user_id=user.id, key_id=key.id, actor_id=user.id
    )
    stored = await key_repository.get_of_user(session, user_id=user.id, key_id=key.id)
    assert stored is not None
    assert stored.revoked_at is not None
    assert stored.revoked_by == admin.id


async def test_revoke_of_another_users_key_changes_nothing(
    session: AsyncSession, make_user: NewUser
) -> None:
    owner, stranger = await make_user(), await make_user()
    key = await _add(session, owner)
    assert not await key_repository.revoke(
        session, user_id=stranger.id, key_id=key.id, actor_id=stranger.id
    )
    assert await key_repository.count_live(session, owner.id) == 1


async def test_find_live_finds_a_live_key_by_its_hash_only(
    session: AsyncSession, user: StoredUser
) -> None:
    key = await _add(session, user)
    found = await key_repository.find_live(session, key.key_hash)
    assert found is not None
    assert found.id == key.id
    assert await key_repository.find_live(session, "0" * 64) is None


async def test_find_live_ignores_revoked_and_expired_keys(
    session: AsyncSession, user: StoredUser
) -> None:
    revoked = await _add(session, user)
    await key_repository.revoke(session, user_id=user.id, key_id=revoked.id, actor_id=user.id)
    expired = await _add(session, user, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await key_repository.find_live(session, revoked.key_hash) is None
    assert await key_repository.find_live(session, expired.key_hash) is None


async def test_mark_used_writes_at_most_once_per_interval(
    session: AsyncSession, user: StoredUser
) -> None:
    key = await _add(session, user)
    assert await key_repository.mark_used(session, key.id, every_seconds=60)
    assert not await key_repository.mark_used(session, key.id, every_seconds=60)
    # Once the last use is older than the interval, the next one is written again.
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id)
        .values(last_used_at=func.now() - timedelta(seconds=61))
    )
    assert await key_repository.mark_used(session, key.id, every_seconds=60)
    stored = await key_repository.get_of_user(session, user_id=user.id, key_id=key.id)
    assert stored is not None
    assert stored.last_used_at is not None


async def test_mark_used_of_an_unknown_key_writes_nothing(session: AsyncSession) -> None:
    assert not await key_repository.mark_used(session, uuid.uuid4(), every_seconds=60)

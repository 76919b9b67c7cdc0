"""auth_svc.repositories.users against the real test PostgreSQL (each test rolled back)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.user import User
from auth_svc.repositories import users as user_repository
from taskhub_common.auth import Role

from .conftest import NewUser, StoredUser, unique_email

pytestmark = pytest.mark.integration

MORE_THAN_ANY_TABLE_HOLDS = 1_000_000


async def test_get_finds_a_user_by_id_and_none_for_an_unknown_id(
    session: AsyncSession, user: StoredUser
) -> None:
    found = await user_repository.get(session, user.id)
    assert found is not None
    assert found.email == user.email
    assert await user_repository.get(session, uuid.uuid4()) is None


async def test_get_by_email_matches_the_stored_address_only(
    session: AsyncSession, user: StoredUser
) -> None:
    found = await user_repository.get_by_email(session, user.email)
    assert found is not None
    assert found.id == user.id
    assert await user_repository.get_by_email(session, unique_email("nobody")) is None


async def test_insert_new_returns_the_user_with_its_role(session: AsyncSession) -> None:
    email = unique_email()
    created = await user_repository.insert_new(
        session, email=email, password_hash="hash", name="Ada", role=Role.ADMIN
    )
    assert created is not None
    assert (created.email, created.name, created.role) == (email, "Ada", "admin")
    assert created.created_at is not None


async def test_insert_new_with_a_taken_email_returns_none_and_the_transaction_goes_on(
    session: AsyncSession, user: StoredUser
) -> None:
    again = await user_repository.insert_new(
        session, email=user.email, password_hash="other", name="Twin", role=Role.USER
    )
    assert again is None
    # No aborted transaction: the session still answers.
    assert await user_repository.get(session, user.id) is not None


async def test_upsert_admin_creates_an_admin(session: AsyncSession) -> None:
    email = unique_email("boss")
    admin = await user_repository.upsert_admin(
        session, email=email, password_hash="hash", name="Boss"
    )
    assert (admin.email, admin.role) == (email, "admin")


async def test_upsert_admin_promotes_an_existing_user_and_keeps_its_password(
    session: AsyncSession, user: StoredUser
) -> None:
    before = await user_repository.get(session, user.id)
    assert before is not None
    kept_hash = before.password_hash
    promoted = await user_repository.upsert_admin(
        session, email=user.email, password_hash="new hash", name="Renamed"
    )
    assert promoted.id == user.id
    assert promoted.role == "admin"
    assert promoted.password_hash == kept_hash
    assert promoted.name == "Test User"


async def test_set_password_hash_changes_that_user_only(
    session: AsyncSession, make_user: NewUser
) -> None:
    changed, other = await make_user(), await make_user()
    await user_repository.set_password_hash(session, changed.id, "fresh hash")
    stored = await user_repository.get(session, changed.id)
    untouched = await user_repository.get(session, other.id)
    assert stored is not None
    assert untouched is not None
    await session.refresh(stored)
    await session.refresh(untouched)
    assert stored.password_hash == "fresh hash"
    assert untouched.password_hash != "fresh hash"


async def test_set_password_hash_of_an_unknown_user_changes_nothing(
    session: AsyncSession, user: StoredUser
) -> None:
    await user_repository.set_password_hash(session, uuid.uuid4(), "fresh hash")
    stored = await user_repository.get(session, user.id)
    assert stored is not None
    await session.refresh(stored)
    assert stored.password_hash != "fresh hash"


async def test_set_role_stores_the_role(session: AsyncSession, user: StoredUser) -> None:
    stored = await user_repository.get(session, user.id)
    assert stored is not None
    changed = await user_repository.set_role(session, stored, Role.ADMIN)
    assert changed.role == "admin"
    reread = await user_repository.get(session, user.id)
    assert reread is not None
    await session.refresh(reread)
    assert reread.role == "admin"


async def test_page_is_oldest_first_with_the_total(
    session: AsyncSession, make_user: NewUser
) -> None:
    made = [await make_user() for _ in range(3)]
    # After every other row (committed ones too), one day apart: the last page is ours.
    for days, account in enumerate(made, start=1):
        await session.execute(
            update(User)
            .where(User.id == account.id)
            .values(created_at=func.now() + timedelta(days=days))
        )
    _, total = await user_repository.page(session, offset=0, limit=1)
    rows, total_again = await user_repository.page(session, offset=total - 3, limit=10)
    assert total_again == total >= 3
    assert [row.id for row in rows] == [account.id for account in made]


async def test_page_honours_offset_and_limit(session: AsyncSession, make_user: NewUser) -> None:
    for _ in range(3):
        await make_user()
    everyone, total = await user_repository.page(session, offset=0, limit=MORE_THAN_ANY_TABLE_HOLDS)
    first_two, _ = await user_repository.page(session, offset=0, limit=2)
    after_one, _ = await user_repository.page(session, offset=1, limit=1)
    assert len(everyone) == total
    assert [row.id for row in first_two] == [row.id for row in everyone[:2]]
    assert [row.id for row in after_one] == [everyone[1].id]

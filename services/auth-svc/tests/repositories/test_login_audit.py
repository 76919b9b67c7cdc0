"""auth_svc.repositories.login_audit against the real test PostgreSQL (each test rolled back)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.repositories import login_audit as audit_repository

from .conftest import NewUser, StoredUser

pytestmark = pytest.mark.integration


async def test_add_stores_the_attempt(session: AsyncSession, user: StoredUser) -> None:
    await audit_repository.add(
        session, user_id=user.id, ip="198.51.100.4", user_agent="curl/8", success=False
    )
    rows, total = await audit_repository.page(session, user_id=user.id, offset=0, limit=10)
    assert total == 1
    (row,) = rows
    assert (row.user_id, str(row.ip), row.user_agent, row.success) == (
        user.id,
        "198.51.100.4",
        "curl/8",
        False,
    )
    assert row.created_at is not None


async def test_an_attempt_without_account_ip_or_agent_is_stored_too(
    session: AsyncSession,
) -> None:
    await audit_repository.add(session, user_id=None, ip=None, user_agent=None, success=False)
    rows, _ = await audit_repository.page(session, user_id=None, offset=0, limit=1)
    assert (rows[0].user_id, rows[0].ip, rows[0].user_agent) == (None, None, None)


async def test_page_of_a_user_is_newest_first_and_only_theirs(
    session: AsyncSession, make_user: NewUser
) -> None:
    user, other = await make_user(), await make_user()
    for agent in ("first", "second", "third"):
        await audit_repository.add(
            session, user_id=user.id, ip=None, user_agent=agent, success=True
        )
    await audit_repository.add(session, user_id=other.id, ip=None, user_agent="x", success=True)
    rows, total = await audit_repository.page(session, user_id=user.id, offset=0, limit=10)
    # Rows of one transaction share created_at: the id breaks the tie, newest first.
    assert total == 3
    assert [row.user_agent for row in rows] == ["third", "second", "first"]
    page_two, _ = await audit_repository.page(session, user_id=user.id, offset=1, limit=1)
    assert [row.user_agent for row in page_two] == ["second"]


async def test_page_of_everyone_counts_every_row_newest_first(
    session: AsyncSession, make_user: NewUser
) -> None:
    _, before = await audit_repository.page(session, user_id=None, offset=0, limit=1)
    user, other = await make_user(), await make_user()
    await audit_repository.add(session, user_id=user.id, ip=None, user_agent="a", success=True)
    await audit_repository.add(session, user_id=other.id, ip=None, user_agent="b", success=True)
    rows, total = await audit_repository.page(session, user_id=None, offset=0, limit=2)
    assert total == before + 2
    assert [row.user_agent for row in rows] == ["b", "a"]


async def test_page_of_a_user_without_attempts_is_empty(
    session: AsyncSession, user: StoredUser
) -> None:
    assert await audit_repository.page(session, user_id=user.id, offset=0, limit=10) == ([], 0)

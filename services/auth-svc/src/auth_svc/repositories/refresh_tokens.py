"""SQL on `refresh_tokens`: issue, spend exactly once, revoke a family."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.refresh_token import RefreshTokenRecord


async def add(
    session: AsyncSession,
    *,
    jti: uuid.UUID,
    family_id: uuid.UUID,
    user_id: uuid.UUID,
    expires_at: datetime,
) -> None:
    session.add(
        RefreshTokenRecord(jti=jti, family_id=family_id, user_id=user_id, expires_at=expires_at)
    )
    await session.flush()


async def spend(session: AsyncSession, jti: uuid.UUID) -> RefreshTokenRecord | None:
    """Mark a live token used and return it; `None` if it is spent, revoked, expired or unknown.

    A single conditional UPDATE: of two concurrent calls, the second waits for the
    first's row lock, then re-reads `used_at` and matches nothing. Exactly one wins.
    """
    statement = (
        update(RefreshTokenRecord)
        .where(
            RefreshTokenRecord.jti == jti,
            RefreshTokenRecord.used_at.is_(None),
            RefreshTokenRecord.revoked_at.is_(None),
            RefreshTokenRecord.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(RefreshTokenRecord)
    )
    return await session.scalar(statement, execution_options={"populate_existing": True})


async def spent_within(
    session: AsyncSession, jti: uuid.UUID, seconds: int
) -> RefreshTokenRecord | None:
    """The token if it was spent less than `seconds` ago and is neither revoked nor expired.

    Compared with `clock_timestamp()` (the time now, not the transaction's start), and read
    after `spend` failed: a concurrent winner's row lock made that wait for its commit.
    """
    return await session.scalar(
        select(RefreshTokenRecord)
        .where(
            RefreshTokenRecord.jti == jti,
            RefreshTokenRecord.used_at > func.clock_timestamp() - timedelta(seconds=seconds),
            RefreshTokenRecord.revoked_at.is_(None),
            RefreshTokenRecord.expires_at > func.now(),
        )
        .execution_options(populate_existing=True)
    )


async def get(session: AsyncSession, jti: uuid.UUID) -> RefreshTokenRecord | None:
    return await session.scalar(
        select(RefreshTokenRecord)
        .where(RefreshTokenRecord.jti == jti)
        .execution_options(populate_existing=True)
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> int:
    """Revoke every token of the family that is not revoked yet; returns how many."""
    result = await session.execute(
        update(RefreshTokenRecord)
        .where(RefreshTokenRecord.family_id == family_id, RefreshTokenRecord.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(RefreshTokenRecord.jti)
    )
    return len(result.all())


async def revoke_user(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Revoke every live token of every family of the user; returns how many."""
    result = await session.execute(
        update(RefreshTokenRecord)
        .where(RefreshTokenRecord.user_id == user_id, RefreshTokenRecord.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(RefreshTokenRecord.jti)
    )
    return len(result.all())

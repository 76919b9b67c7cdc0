"""SQL on `api_keys`: add, count, list, revoke, find a live key by its hash, mark its use."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.api_key import ApiKey
from auth_svc.models.user import User


def _live() -> ColumnElement[bool]:
    return and_(
        ApiKey.revoked_at.is_(None),
        or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()),
    )


async def lock_owner(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Lock the user's row (serialises their key creations); False if there is no such user."""
    found = await session.scalar(select(User.id).where(User.id == user_id).with_for_update())
    return found is not None


async def count_live(session: AsyncSession, user_id: uuid.UUID) -> int:
    total = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id, _live())
    )
    return total or 0


async def add(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    name: str,
    key_hash: str,
    prefix: str,
    scopes: list[str],
    expires_at: datetime | None,
) -> ApiKey:
    key = ApiKey(
        id=uuid.uuid4(),
        user_id=user_id,
        name=name,
        key_hash=key_hash,
        prefix=prefix,
        scopes=scopes,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    await session.refresh(key)
    return key


async def page(
    session: AsyncSession, *, user_id: uuid.UUID, offset: int, limit: int
) -> tuple[Sequence[ApiKey], int]:
    """A user's keys, revoked and expired ones included, newest first, and their count."""
    total = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id)
    )
    rows = await session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total or 0


async def get_of_user(
    session: AsyncSession, *, user_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id)
        .execution_options(populate_existing=True)
    )


async def revoke(
    session: AsyncSession, *, user_id: uuid.UUID, key_id: uuid.UUID, actor_id: uuid.UUID
) -> bool:
    """Revoke the user's key unless it already is; True when this call revoked it."""
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_by=actor_id)
        .returning(ApiKey.id)
    )
    return result.first() is not None


async def find_live(session: AsyncSession, key_hash: str) -> ApiKey | None:
    """The live key with this hash (one unique-index probe, whatever the key's text)."""
    return await session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, _live()))


async def mark_used(session: AsyncSession, key_id: uuid.UUID, *, every_seconds: int) -> bool:
    """Set `last_used_at` unless it was set less than `every_seconds` ago; True if written."""
    result = await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(
                ApiKey.last_used_at.is_(None),
                ApiKey.last_used_at < func.now() - timedelta(seconds=every_seconds),
            ),
        )
        .values(last_used_at=func.now())
        .returning(ApiKey.id)
    )
    return result.first() is not None

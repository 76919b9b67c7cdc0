"""All SQL about notes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from template_svc.models import Note


async def page_of_owner(
    session: AsyncSession, *, owner_id: uuid.UUID, offset: int, limit: int
) -> tuple[Sequence[Note], int]:
    mine = Note.owner_id == owner_id
    total = await session.scalar(select(func.count()).select_from(Note).where(mine))
    rows = await session.scalars(
        select(Note)
        .where(mine)
        .order_by(Note.created_at.desc(), Note.id)
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total or 0

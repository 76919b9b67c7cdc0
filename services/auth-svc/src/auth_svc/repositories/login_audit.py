"""SQL on `login_audit`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.login_audit import LoginAudit


async def add(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    ip: str | None,
    user_agent: str | None,
    success: bool,
) -> None:
    session.add(LoginAudit(user_id=user_id, ip=ip, user_agent=user_agent, success=success))
    await session.flush()


async def page(
    session: AsyncSession, *, user_id: uuid.UUID | None, offset: int, limit: int
) -> tuple[Sequence[LoginAudit], int]:
    """Audit rows newest first (optionally of one user), and their total count."""
    condition = [] if user_id is None else [LoginAudit.user_id == user_id]
    total = await session.scalar(select(func.count()).select_from(LoginAudit).where(*condition))
    rows = await session.scalars(
        select(LoginAudit)
        .where(*condition)
        .order_by(LoginAudit.created_at.desc(), LoginAudit.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total or 0

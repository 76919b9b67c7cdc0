"""The login audit as administrators page through it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.login_audit import LoginAudit
from auth_svc.repositories import login_audit as audit_repository


async def list_attempts(
    session: AsyncSession, *, user_id: uuid.UUID | None, page: int, limit: int
) -> tuple[Sequence[LoginAudit], int]:
    """Login attempts newest first, optionally of one user."""
    return await audit_repository.page(
        session, user_id=user_id, offset=(page - 1) * limit, limit=limit
    )

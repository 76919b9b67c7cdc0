"""The login audit (admins only)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from auth_svc.api.deps import AdminUser, DbSession, Limit, PageNumber
from auth_svc.schemas.audit import LoginAuditPage, LoginAuditRead
from auth_svc.services import audit as audit_service
from taskhub_common.errors import error_responses

router = APIRouter(prefix="/auth/audit", tags=["audit"])


@router.get("", response_model=LoginAuditPage, responses=error_responses(401, 403, 422))
async def list_login_attempts(
    admin: AdminUser,
    session: DbSession,
    user_id: uuid.UUID | None = None,
    page: PageNumber = 1,
    limit: Limit = 20,
) -> Any:
    """Login attempts, newest first; `user_id` narrows them to one account."""
    items, total = await audit_service.list_attempts(
        session, user_id=user_id, page=page, limit=limit
    )
    return LoginAuditPage(
        items=[LoginAuditRead.model_validate(item) for item in items],
        total=total,
        page=page,
        limit=limit,
    )

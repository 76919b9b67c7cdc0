"""Administration of users: listing and role changes (admins only)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from auth_svc.api.deps import AdminUser, DbSession, Limit, PageNumber
from auth_svc.schemas.users import RoleUpdate, UserPage, UserRead
from auth_svc.services import users as user_service
from taskhub_common.errors import error_responses

router = APIRouter(prefix="/auth/users", tags=["users"])


@router.get("", name="list", response_model=UserPage, responses=error_responses(401, 403, 422))
async def list_users(
    admin: AdminUser, session: DbSession, page: PageNumber = 1, limit: Limit = 20
) -> Any:
    """Every account, oldest first."""
    items, total = await user_service.list_users(session, page=page, limit=limit)
    return UserPage(
        items=[UserRead.model_validate(item) for item in items], total=total, page=page, limit=limit
    )


@router.patch(
    "/{user_id}", response_model=UserRead, responses=error_responses(401, 403, 404, 409, 422)
)
async def change_role(
    user_id: uuid.UUID, body: RoleUpdate, admin: AdminUser, session: DbSession
) -> Any:
    """Set a user's role; it applies to their tokens from their next login or refresh."""
    return await user_service.change_role(session, user_id=user_id, role=body.role, actor=admin)

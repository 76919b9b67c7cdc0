"""User profiles, the admin listing and role changes, and the admin bootstrap."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.errors import OwnRoleChange, UserNotFound
from auth_svc.core.security import passwords
from auth_svc.models.user import User
from auth_svc.repositories import users as user_repository
from taskhub_common.auth import INVALID_TOKEN_MESSAGE, Principal, Role
from taskhub_common.errors import Unauthorized

logger = logging.getLogger(__name__)


async def get_profile(session: AsyncSession, *, principal: Principal) -> User:
    """The caller's own account; a token whose user no longer exists is not valid."""
    user = await user_repository.get(session, principal.user_id)
    if user is None:
        raise Unauthorized(INVALID_TOKEN_MESSAGE)
    return user


async def get_user(session: AsyncSession, *, user_id: uuid.UUID) -> User:
    user = await user_repository.get(session, user_id)
    if user is None:
        raise UserNotFound
    return user


async def list_users(session: AsyncSession, *, page: int, limit: int) -> tuple[Sequence[User], int]:
    return await user_repository.page(session, offset=(page - 1) * limit, limit=limit)


async def change_role(
    session: AsyncSession, *, user_id: uuid.UUID, role: Role, actor: Principal
) -> User:
    """Set a user's role. Admins cannot demote themselves (no admin-less lock-out by accident).

    The new role reaches tokens at the user's next login or refresh.
    """
    user = await get_user(session, user_id=user_id)
    if user.id == actor.user_id and role is not Role.ADMIN:
        raise OwnRoleChange
    user = await user_repository.set_role(session, user, role)
    logger.info(
        "user role changed",
        extra={"user_id": str(user.id), "role": role.value, "actor_id": str(actor.user_id)},
    )
    return user


async def ensure_admin(session: AsyncSession, *, email: str, name: str, password: str) -> User:
    """Create this admin account, or promote the existing one (keeping its password)."""
    password_hash = await passwords.hash(password)
    user = await user_repository.upsert_admin(
        session, email=email.strip().lower(), password_hash=password_hash, name=name
    )
    logger.info("admin account ensured", extra={"user_id": str(user.id)})
    return user

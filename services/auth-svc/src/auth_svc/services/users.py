"""User profiles, the admin listing and role changes, and the admin bootstrap."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.emails import canonical_email
from auth_svc.core.security import passwords
from auth_svc.models.user import User
from auth_svc.repositories import refresh_tokens as token_repository
from auth_svc.repositories import users as user_repository
from auth_svc.services.errors import OwnRoleChange, UserNotFound
from taskhub_common.auth import INVALID_TOKEN_MESSAGE, Principal, Role, require_admin
from taskhub_common.errors import Unauthorized

logger = logging.getLogger(__name__)


async def get_profile(session: AsyncSession, *, principal: Principal) -> User:
    """The caller's own account; a token whose user no longer exists is not valid."""
    user = await user_repository.get(session, principal.user_id)
    if user is None:
        raise Unauthorized(INVALID_TOKEN_MESSAGE)
    return user


async def current_admin(session: AsyncSession, *, principal: Principal) -> Principal:
    """The caller, if the database (not the token) says they are an admin.

    A token outlives a demotion by up to its lifetime; auth-svc's own admin routes must
    not. A token whose user no longer exists is not valid (401).
    """
    user = await get_profile(session, principal=principal)
    return require_admin(Principal(user_id=user.id, role=Role(user.role)))


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

    A change revokes all of the user's refresh tokens: the next token they hold carries
    the new role, from a new login. auth-svc checks admins against the database at once;
    other services within the lifetime of the access tokens already issued.
    """
    user = await get_user(session, user_id=user_id)
    if user.id == actor.user_id and role is not Role.ADMIN:
        raise OwnRoleChange
    if user.role == role.value:
        return user
    user = await user_repository.set_role(session, user, role)
    revoked = await token_repository.revoke_user(session, user.id)
    logger.info(
        "user role changed",
        extra={
            "user_id": str(user.id),
            "role": role.value,
            "actor_id": str(actor.user_id),
            "revoked_tokens": revoked,
        },
    )
    return user


async def ensure_admin(session: AsyncSession, *, email: str, name: str, password: str) -> User:
    """Create this admin account, or promote the existing one (keeping its password)."""
    password_hash = await passwords.hash(password)
    user = await user_repository.upsert_admin(
        session, email=canonical_email(email), password_hash=password_hash, name=name
    )
    logger.info("admin account ensured", extra={"user_id": str(user.id)})
    return user

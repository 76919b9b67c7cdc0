"""SQL on `users`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.user import User
from taskhub_common.auth import Role


async def get(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def insert_new(
    session: AsyncSession, *, email: str, password_hash: str, name: str, role: Role
) -> User | None:
    """Insert a user; `None` when the e-mail is taken (no exception, no aborted transaction)."""
    statement = (
        insert(User)
        .values(
            id=uuid.uuid4(), email=email, password_hash=password_hash, name=name, role=role.value
        )
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User)
    )
    return await session.scalar(statement)


async def upsert_admin(session: AsyncSession, *, email: str, password_hash: str, name: str) -> User:
    """Create the account as an admin, or promote the existing one (its password is kept).

    One statement, so workers starting together cannot both insert.
    """
    statement = (
        insert(User)
        .values(
            id=uuid.uuid4(),
            email=email,
            password_hash=password_hash,
            name=name,
            role=Role.ADMIN.value,
        )
        .on_conflict_do_update(
            index_elements=[User.email],
            set_={"role": Role.ADMIN.value, "updated_at": func.now()},
        )
        .returning(User)
    )
    result = await session.scalars(statement, execution_options={"populate_existing": True})
    return result.one()  # an upsert always returns its row


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(password_hash=password_hash, updated_at=func.now())
    )


async def set_role(session: AsyncSession, user: User, role: Role) -> User:
    user.role = role.value
    await session.flush()
    await session.refresh(user)
    return user


async def page(session: AsyncSession, *, offset: int, limit: int) -> tuple[Sequence[User], int]:
    """Users oldest first (a stable order for paging), and the total count."""
    total = await session.scalar(select(func.count()).select_from(User))
    rows = await session.scalars(
        select(User).order_by(User.created_at, User.id).offset(offset).limit(limit)
    )
    return rows.all(), total or 0

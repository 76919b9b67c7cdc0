"""Rows for the repository tests, made through the repositories in the rolled-back session."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.models.user import User
from auth_svc.repositories import users as user_repository
from taskhub_common.auth import Role

NewUser = Callable[..., Awaitable[User]]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def new_user(session: AsyncSession, password_hash: str) -> NewUser:
    """`await new_user(role)`: a stored user with an e-mail no other test uses."""

    async def create(role: Role = Role.USER) -> User:
        created = await user_repository.insert_new(
            session,
            email=unique_email(role.value),
            password_hash=password_hash,
            name="Test User",
            role=role,
        )
        assert created is not None
        return created

    return create


@pytest.fixture
async def user(new_user: NewUser) -> User:
    return await new_user()


@pytest.fixture
async def admin(new_user: NewUser) -> User:
    return await new_user(Role.ADMIN)

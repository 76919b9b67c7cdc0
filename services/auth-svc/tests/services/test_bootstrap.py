"""Startup: keys are prepared and the configured admin account exists, idempotently."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from auth_svc.core.config import Settings
from auth_svc.core.keys import KeyRing
from auth_svc.core.security import key_store
from auth_svc.db.session import database
from auth_svc.models.user import User
from auth_svc.services.bootstrap import prepare
from auth_svc.services.users import ensure_admin

pytestmark = pytest.mark.integration

PASSWORD = "bootstrap-password"


def settings_with_admin(email: str | None) -> Settings:
    return Settings(
        admin_email=email,
        admin_password=SecretStr(PASSWORD) if email else None,
        admin_name="Root",
    )


async def stored(email: str) -> User | None:
    async with database.transaction() as session:
        return await session.scalar(select(User).where(User.email == email))


@pytest.fixture
def admin_email(committed_users: list[str]) -> str:
    email = f"boot-{uuid.uuid4().hex[:12]}@example.com"
    committed_users.append(email)
    return email


async def test_startup_creates_the_configured_admin_once(
    admin_email: str, key_ring: KeyRing
) -> None:
    await prepare(settings_with_admin(admin_email.upper()))
    first = await stored(admin_email)
    await prepare(settings_with_admin(admin_email))
    second = await stored(admin_email)

    assert first is not None
    assert second is not None
    assert (first.role, first.name) == ("admin", "Root")
    assert second.id == first.id
    assert second.password_hash == first.password_hash  # a restart does not reset it


async def test_startup_promotes_an_existing_user(admin_email: str, key_ring: KeyRing) -> None:
    async with database.transaction() as session:
        session.add(User(email=admin_email, password_hash="kept", name="Already", role="user"))

    await prepare(settings_with_admin(admin_email))

    promoted = await stored(admin_email)
    assert promoted is not None
    assert (promoted.role, promoted.password_hash, promoted.name) == ("admin", "kept", "Already")


async def test_workers_bootstrapping_together_create_one_account(
    admin_email: str, key_ring: KeyRing
) -> None:
    async def one_worker() -> uuid.UUID:
        async with database.transaction() as session:
            return (await ensure_admin(session, email=admin_email, name="R", password=PASSWORD)).id

    ids = await asyncio.gather(*(one_worker() for _ in range(3)))

    assert len(set(ids)) == 1
    async with database.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.email == admin_email)
        )
    assert count == 1


async def test_startup_without_admin_settings_only_loads_keys(
    tmp_path: Path, key_ring: KeyRing
) -> None:
    previous = key_store.directory
    key_store.directory = tmp_path / "fresh"
    try:
        await prepare(settings_with_admin(None))
        assert (tmp_path / "fresh" / "signing-key.pem").exists()
    finally:
        key_store.load(previous)

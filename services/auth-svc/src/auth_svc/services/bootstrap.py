"""Startup work of auth-svc: signing keys on disk and the configured admin account."""

from __future__ import annotations

import anyio

from auth_svc.core.config import Settings
from auth_svc.core.security import key_store
from auth_svc.db.session import database
from auth_svc.services import users as user_service


async def prepare(settings: Settings) -> None:
    """Load (or generate) the keys, then ensure `AUTH_ADMIN_EMAIL` is an admin when set."""
    # Generating an RSA key takes a noticeable moment of CPU: keep it off the loop.
    await anyio.to_thread.run_sync(key_store.load, key_store.directory)
    if settings.admin_email is None or settings.admin_password is None:
        return
    async with database.transaction() as session:
        await user_service.ensure_admin(
            session,
            email=settings.admin_email,
            name=settings.admin_name,
            password=settings.admin_password.get_secret_value(),
        )

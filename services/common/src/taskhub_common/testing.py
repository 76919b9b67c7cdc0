"""Test plumbing the services share: migrated test databases, per-test rollback, an API client.

Integration tests run against the real PostgreSQL and Redis of the test stack; each test
works inside one outer transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from taskhub_common.auth import (
    ACCESS_TOKEN_TYPE,
    Role,
    StaticKeySource,
    TokenVerifier,
    access_token_claims,
    sign_token,
)
from taskhub_common.migrations import upgrade_to_head


async def migrate(ini_path: Path, database_url: str) -> None:
    """`alembic upgrade head` on the test database (in a thread: Alembic runs its own loop)."""
    await asyncio.to_thread(upgrade_to_head, ini_path, database_url)


@asynccontextmanager
async def rollback_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose commits become savepoints of one transaction rolled back at the end."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        session = AsyncSession(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            await session.close()
            if outer.is_active:
                await outer.rollback()


@asynccontextmanager
async def api_client(
    app: FastAPI,
    *,
    session_dependency: Callable[..., Any],
    session: AsyncSession,
    client_host: str = "203.0.113.7",
) -> AsyncIterator[httpx.AsyncClient]:
    """An `httpx.AsyncClient` calling `app` in-process, its DB dependency bound to `session`."""

    async def use_test_session() -> AsyncIterator[AsyncSession]:
        yield session

    app.dependency_overrides[session_dependency] = use_test_session
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        app.dependency_overrides.pop(session_dependency, None)


class TokenMinter:
    """Mints access tokens with a throwaway RSA key, and a verifier that trusts only it.

    For services other than auth-svc: their tests need callers, not auth-svc itself.
    """

    def __init__(self, *, issuer: str, audience: str) -> None:
        self.key = RSAKey.generate_key(2048, auto_kid=True)
        self.issuer = issuer
        self.audience = audience
        self.verifier = TokenVerifier(
            StaticKeySource(KeySet([self.key])), issuer=issuer, audience=audience
        )

    def access_token(self, user_id: uuid.UUID, role: Role = Role.USER, lifetime: int = 900) -> str:
        claims = access_token_claims(
            user_id=user_id,
            role=role,
            issuer=self.issuer,
            audience=self.audience,
            lifetime_seconds=lifetime,
        )
        return sign_token(self.key, claims, token_type=ACCESS_TOKEN_TYPE)

    def headers(self, user_id: uuid.UUID, role: Role = Role.USER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token(user_id, role)}"}

"""Test plumbing the services share: migrated test databases, per-test rollback, an API client.

Integration tests run against the real PostgreSQL and Redis of the test stack; each test
works inside one outer transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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

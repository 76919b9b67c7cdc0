"""The repository tests' database: empty tables (`clean`), then one transaction per test that
is rolled back; rows other connections must see are committed by `committed` and removed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from taskhub_common.testing import rollback_session

Commit = Callable[..., Awaitable[None]]


@pytest.fixture
async def session(clean: None) -> AsyncIterator[AsyncSession]:
    from notify_svc.db.session import database

    async with rollback_session(database.engine) as test_session:
        yield test_session


@asynccontextmanager
async def _rolled_back() -> AsyncIterator[AsyncSession]:
    from notify_svc.db.session import database

    async with database.engine.connect() as connection:
        other = AsyncSession(bind=connection, expire_on_commit=False)
        try:
            yield other
        finally:
            await other.rollback()
            await other.close()


@pytest.fixture
def other_transaction() -> Callable[[], AbstractAsyncContextManager[AsyncSession]]:
    """`async with other_transaction() as s`: a second connection (another worker, another
    scan), its work rolled back at the end."""
    return _rolled_back


@pytest.fixture
async def committed(clean: None) -> AsyncIterator[Commit]:
    """`await committed(rows)`: rows every connection sees; the tables are emptied after."""
    from notify_svc.db.session import database

    async def commit(*rows: Any) -> None:
        async with database.transaction() as db_session:
            db_session.add_all(rows)

    yield commit
    async with database.engine.begin() as connection:
        await connection.execute(text("TRUNCATE reminders, jobs CASCADE"))

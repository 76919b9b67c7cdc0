"""The process-wide database and Redis clients of task-svc, and their request dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from task_svc.core.config import get_settings
from taskhub_common.db import Database

settings = get_settings()
database = Database(settings.database_url, pool_size=settings.database_pool_size)
# Short timeouts: Redis holds a cache and the rate limit, both of which may fail open.
redis: Redis = Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)

DbSession = Annotated[AsyncSession, Depends(database.session, scope="function")]


# Requests that run one read-only statement (the task list, the hottest endpoint) use a
# small pool of autocommit connections: one statement sees one snapshot anyway, and it
# saves BEGIN/COMMIT plus two of the three round trips the asyncpg pre-ping costs on a
# connection outside autocommit (BEGIN; ping; ROLLBACK).
read_engine: AsyncEngine = create_async_engine(
    settings.database_url,
    isolation_level="AUTOCOMMIT",
    pool_size=settings.database_read_pool_size,
    # No overflow: overflow connections are closed on check-in whenever the pool is full,
    # so under steady load they would be opened (a PostgreSQL fork) and closed per request.
    max_overflow=0,
    pool_pre_ping=True,
)


async def read_connection() -> AsyncIterator[AsyncConnection]:
    """An autocommit connection for a request that runs one read-only statement."""
    async with read_engine.connect() as connection:
        yield connection


ReadConnection = Annotated[AsyncConnection, Depends(read_connection)]

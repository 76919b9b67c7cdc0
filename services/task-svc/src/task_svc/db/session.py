"""The process-wide clients of task-svc (its service kit), and their request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.core.config import get_settings
from task_svc.db.read_pool import ReadConnections, ReadPool
from taskhub_common.service import ServiceKit

settings = get_settings()
kit = ServiceKit(
    settings,
    # "local": a write checks its pooled connection without the three round trips of a
    # server ping (BEGIN, ;, ROLLBACK), more than a status change spends on its own work.
    database_ping="local",
    # Short timeouts: Redis holds a cache and the rate limit, both of which may fail open.
    redis_timeout_seconds=1.0,
    http_timeout_seconds=settings.http_timeout_seconds,
)
database = kit.database
redis = kit.redis

DbSession = Annotated[AsyncSession, Depends(database.session, scope="function")]


# The task list, the hottest endpoint, reads through plain asyncpg connections in
# autocommit: it runs one or two statements per request, and SQLAlchemy's execution
# layer plus a pre-ping would cost more CPU than PostgreSQL spends answering them.
read_pool = ReadPool(settings.database_url, size=settings.database_read_pool_size)


async def read_connections() -> ReadConnections:
    """The read pool. A plain dependency rather than a yielded connection: FastAPI's
    machinery around generator dependencies costs more than the reads themselves."""
    return read_pool


Reads = Annotated[ReadConnections, Depends(read_connections)]

"""The process-wide database and Redis clients of auth-svc, and their request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.config import get_settings
from taskhub_common.db import Database

settings = get_settings()
database = Database(settings.database_url, pool_size=settings.database_pool_size)
redis: Redis = Redis.from_url(settings.redis_url)

DbSession = Annotated[AsyncSession, Depends(database.session, scope="function")]

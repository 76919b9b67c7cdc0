"""The process-wide clients of auth-svc (its service kit), and their request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.config import get_settings
from taskhub_common.service import ServiceKit

settings = get_settings()
kit = ServiceKit(settings)
database = kit.database
redis = kit.redis

DbSession = Annotated[AsyncSession, Depends(database.session, scope="function")]

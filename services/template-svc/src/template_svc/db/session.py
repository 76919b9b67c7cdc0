"""The process-wide clients of template-svc (its service kit), and their request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from taskhub_common.service import ServiceKit
from template_svc.core.config import get_settings

settings = get_settings()
kit = ServiceKit(settings, http_timeout_seconds=settings.http_timeout_seconds)
database = kit.database
redis = kit.redis

DbSession = Annotated[AsyncSession, Depends(database.session, scope="function")]

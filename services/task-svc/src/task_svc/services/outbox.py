"""Administration of the outbox: list the parked events, requeue one once its cause is fixed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.models import OutboxEvent
from task_svc.repositories import outbox as outbox_repository
from task_svc.services.errors import ParkedEventNotFound


async def list_parked(
    session: AsyncSession, *, page: int, limit: int
) -> tuple[Sequence[OutboxEvent], int]:
    return await outbox_repository.parked_page(session, offset=(page - 1) * limit, limit=limit)


async def requeue(session: AsyncSession, *, event_id: uuid.UUID) -> None:
    """Send a parked event again (fresh attempts); `ParkedEventNotFound` if it is not parked."""
    if not await outbox_repository.requeue(session, event_id):
        raise ParkedEventNotFound

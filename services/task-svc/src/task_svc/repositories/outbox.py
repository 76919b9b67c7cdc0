"""All SQL about the outbox: writing events, claiming due ones, recording delivery."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from task_svc.models import OutboxEvent


def add_events(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """Queue events in the caller's transaction: they exist exactly when the change commits."""
    session.add_all(events)


async def claim_due(session: AsyncSession, *, limit: int) -> list[OutboxEvent]:
    """Undelivered due events, oldest first, locked for this transaction.

    SKIP LOCKED lets several relays (one per worker process) share the table without
    sending an event twice at the same time. An event waits while an older undelivered
    event of the same task exists, so notify-svc sees each task's events in order.
    """
    earlier = aliased(OutboxEvent)
    older_pending = (
        select(earlier.id)
        .where(
            earlier.delivered_at.is_(None),
            earlier.task_id == OutboxEvent.task_id,
            tuple_(earlier.created_at, earlier.id) < tuple_(OutboxEvent.created_at, OutboxEvent.id),
        )
        .exists()
    )
    statement = (
        select(OutboxEvent)
        .where(
            OutboxEvent.delivered_at.is_(None),
            # clock_timestamp(): the real time, not the (possibly long) transaction's start.
            OutboxEvent.next_attempt_at <= func.clock_timestamp(),
            ~older_pending,
        )
        .order_by(OutboxEvent.created_at, OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(statement)).scalars())


async def mark_delivered(session: AsyncSession, event_ids: Sequence[uuid.UUID]) -> None:
    if event_ids:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(event_ids))
            .values(delivered_at=func.now(), attempts=OutboxEvent.attempts + 1, last_error=None)
            .execution_options(synchronize_session=False)
        )


async def mark_failed(
    session: AsyncSession, event_id: uuid.UUID, *, error: str, retry_at: datetime
) -> None:
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(attempts=OutboxEvent.attempts + 1, last_error=error, next_attempt_at=retry_at)
        .execution_options(synchronize_session=False)
    )


async def count_undelivered(session: AsyncSession) -> int:
    statement = select(func.count()).where(OutboxEvent.delivered_at.is_(None))
    return (await session.execute(statement)).scalar_one()

"""All SQL about the outbox: writing events, claiming due ones, recording delivery, parking."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from task_svc.models import OutboxEvent


def add_events(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """Queue events in the caller's transaction: they exist exactly when the change commits."""
    session.add_all(events)


async def claim_due(session: AsyncSession, *, limit: int) -> list[OutboxEvent]:
    """Undelivered due events, oldest first, locked for this transaction.

    SKIP LOCKED lets several relays (one per worker process) share the table without
    sending an event twice at the same time. An event waits while an older pending event
    of the same task exists, so notify-svc sees each task's events in order; a parked event
    no longer holds the others back.
    """
    earlier = aliased(OutboxEvent)
    older_pending = (
        select(earlier.id)
        .where(
            earlier.delivered_at.is_(None),
            earlier.parked_at.is_(None),
            earlier.task_id == OutboxEvent.task_id,
            tuple_(earlier.created_at, earlier.id) < tuple_(OutboxEvent.created_at, OutboxEvent.id),
        )
        .exists()
    )
    statement = (
        select(OutboxEvent)
        .where(
            OutboxEvent.delivered_at.is_(None),
            OutboxEvent.parked_at.is_(None),
            # clock_timestamp(): the real time, not the (possibly long) transaction's start.
            OutboxEvent.next_attempt_at <= func.clock_timestamp(),
            ~older_pending,
        )
        .order_by(OutboxEvent.created_at, OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(statement)).scalars())


async def mark_delivered(
    session: AsyncSession, deliveries: Sequence[tuple[uuid.UUID, datetime]]
) -> None:
    """Record each (event id, the time notify-svc accepted it)."""
    if deliveries:
        statement = (
            update(OutboxEvent)
            .where(OutboxEvent.id == bindparam("event_id"))
            .values(
                delivered_at=bindparam("accepted_at"),
                attempts=OutboxEvent.attempts + 1,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        parameters = [{"event_id": event_id, "accepted_at": at} for event_id, at in deliveries]
        # Core executemany on the session's connection: one statement, one row each.
        connection = await session.connection()
        await connection.execute(statement, parameters)


async def mark_failed(
    session: AsyncSession, event_id: uuid.UUID, *, error: str, retry_at: datetime
) -> None:
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(attempts=OutboxEvent.attempts + 1, last_error=error, next_attempt_at=retry_at)
        .execution_options(synchronize_session=False)
    )


async def note_unreachable(session: AsyncSession, event_id: uuid.UUID, *, error: str) -> None:
    """notify-svc could not be reached: say why, but count no attempt and move no deadline
    (the event is due again as soon as notify-svc answers)."""
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(last_error=error)
        .execution_options(synchronize_session=False)
    )


async def park(session: AsyncSession, event_id: uuid.UUID, *, error: str) -> None:
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(
            attempts=OutboxEvent.attempts + 1, last_error=error, parked_at=func.clock_timestamp()
        )
        .execution_options(synchronize_session=False)
    )


async def parked_page(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[Sequence[OutboxEvent], int]:
    """Parked events, most recently parked first, and how many there are."""
    parked = OutboxEvent.parked_at.is_not(None)
    rows = await session.execute(
        select(OutboxEvent)
        .where(parked)
        .order_by(OutboxEvent.parked_at.desc(), OutboxEvent.id)
        .offset(offset)
        .limit(limit)
    )
    total = await session.execute(select(func.count()).where(parked))
    return list(rows.scalars()), total.scalar_one()


async def requeue(session: AsyncSession, event_id: uuid.UUID) -> bool:
    """Make a parked event pending again, with fresh attempts; whether it was parked."""
    result = await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.parked_at.is_not(None))
        .values(parked_at=None, attempts=0, next_attempt_at=func.clock_timestamp())
        .returning(OutboxEvent.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def count_undelivered(session: AsyncSession) -> int:
    """Events still to send (parked ones are not: they wait for an administrator)."""
    statement = select(func.count()).where(
        OutboxEvent.delivered_at.is_(None), OutboxEvent.parked_at.is_(None)
    )
    return (await session.execute(statement)).scalar_one()

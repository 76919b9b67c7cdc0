"""All SQL about the outbox: writing events, claiming due ones, recording delivery, parking."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from task_svc.models import OutboxEvent


def add_events(session: AsyncSession, events: Sequence[OutboxEvent]) -> None:
    """Queue events in the caller's transaction: they exist exactly when the change commits."""
    session.add_all(events)


async def claim_due(
    session: AsyncSession, *, limit: int, lease_seconds: float
) -> list[OutboxEvent]:
    """Claim undelivered due events, oldest first, for `lease_seconds`.

    The rows are locked (SKIP LOCKED: several relays, one per worker process, share the
    table) and their due time moved past the lease in this short transaction; once it
    commits, no other relay takes them until the lease ends, and no lock or transaction
    is held while they are sent. A relay that dies holding a claim only delays its
    events by the lease (they are then sent again; notify-svc deduplicates by event id).
    The objects keep the due time from before the claim, for `release`.

    An event waits while an older pending event of the same task exists, so notify-svc
    sees each task's events in order (a claimed event is still pending); a parked event
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
        # Fresh values even for objects the session already holds: `release` restores
        # the due time read here, and the attempt count decides when to park.
        .execution_options(populate_existing=True)
    )
    events = list((await session.execute(statement)).scalars())
    if events:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([event.id for event in events]))
            .values(next_attempt_at=func.clock_timestamp() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return events


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
        .where(OutboxEvent.id == event_id, OutboxEvent.delivered_at.is_(None))
        .values(attempts=OutboxEvent.attempts + 1, last_error=error, next_attempt_at=retry_at)
        .execution_options(synchronize_session=False)
    )


async def release(session: AsyncSession, events: Sequence[OutboxEvent], *, error: str) -> None:
    """notify-svc could not be reached: say why, but count no attempt and give each event
    back its due time from before the claim (due again as soon as notify-svc answers)."""
    if events:
        statement = (
            update(OutboxEvent)
            .where(OutboxEvent.id == bindparam("event_id"), OutboxEvent.delivered_at.is_(None))
            .values(last_error=error, next_attempt_at=bindparam("due_at"))
            .execution_options(synchronize_session=False)
        )
        parameters = [{"event_id": event.id, "due_at": event.next_attempt_at} for event in events]
        connection = await session.connection()
        await connection.execute(statement, parameters)


async def park(session: AsyncSession, event_id: uuid.UUID, *, error: str) -> None:
    # A late answer may find the event delivered by another relay (its claim had ended).
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id, OutboxEvent.delivered_at.is_(None))
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

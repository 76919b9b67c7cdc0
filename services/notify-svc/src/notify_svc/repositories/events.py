"""All SQL about processed task-svc events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.models import ProcessedEvent


async def is_processed(session: AsyncSession, event_id: str) -> bool:
    statement = select(ProcessedEvent.event_id).where(ProcessedEvent.event_id == event_id)
    return (await session.execute(statement)).first() is not None


async def record(session: AsyncSession, *, event_id: str, event_type: str) -> bool:
    """Record the event; False when it was recorded already (a concurrent duplicate).

    The insert waits for a concurrent transaction holding the same key, so of two
    simultaneous deliveries exactly one proceeds.
    """
    statement = (
        insert(ProcessedEvent)
        .values(event_id=event_id, type=event_type)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ProcessedEvent.event_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def processed_among(session: AsyncSession, event_ids: Sequence[str]) -> set[str]:
    """Which of these event ids were applied already (one query for a whole batch)."""
    statement = select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.in_(event_ids))
    return set((await session.execute(statement)).scalars())


async def record_many(session: AsyncSession, events: Sequence[tuple[str, str]]) -> set[str]:
    """Record (event id, type) pairs in one statement; the ids that were new.

    Like `record`, an id a concurrent transaction is inserting waits for it. The ids go in
    sorted, so two overlapping batches take their row locks in one order (no deadlock).
    """
    if not events:
        return set()
    rows = [{"event_id": event_id, "type": event_type} for event_id, event_type in sorted(events)]
    statement = (
        insert(ProcessedEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ProcessedEvent.event_id)
    )
    return set((await session.execute(statement)).scalars())

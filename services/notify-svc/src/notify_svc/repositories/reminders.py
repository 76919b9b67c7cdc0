"""All SQL about deadline reminders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, case, column, delete, func, null, select, update, values
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.models import Reminder

# Reminders one scan claims; the rest wait for the next tick.
SCAN_BATCH = 200


async def upsert(session: AsyncSession, values: dict[str, Any]) -> None:
    """Create or update the task's reminder, unless a newer event already shaped it.

    A moved deadline makes the reminder due again (`sent_at` cleared); an unchanged one
    keeps it sent.
    """
    statement = insert(Reminder).values(id=uuid.uuid4(), **values)
    excluded = statement.excluded
    moved = Reminder.due_at.is_distinct_from(excluded.due_at)
    statement = statement.on_conflict_do_update(
        index_elements=["task_id"],
        set_={
            "task_title": excluded.task_title,
            "recipient_id": excluded.recipient_id,
            "task_owner_id": excluded.task_owner_id,
            "due_at": excluded.due_at,
            "remind_at": excluded.remind_at,
            "event_at": excluded.event_at,
            "sent_at": case((moved, null()), else_=Reminder.sent_at),
            "job_id": case((moved, null()), else_=Reminder.job_id),
            "updated_at": func.now(),
        },
        where=Reminder.event_at <= excluded.event_at,
    )
    await session.execute(statement)


async def delete_for_task(session: AsyncSession, *, task_id: uuid.UUID, event_at: datetime) -> None:
    statement = delete(Reminder).where(Reminder.task_id == task_id, Reminder.event_at <= event_at)
    await session.execute(statement)


async def delete_for_tasks(
    session: AsyncSession, events: Sequence[tuple[uuid.UUID, datetime]]
) -> None:
    """`delete_for_task` for many (task id, event time) pairs, in one statement."""
    if not events:
        return
    pairs = values(
        column("task_id", UUID(as_uuid=True)),
        column("event_at", DateTime(timezone=True)),
        name="forgotten",
    ).data(list(events))
    statement = delete(Reminder).where(
        Reminder.task_id == pairs.c.task_id, Reminder.event_at <= pairs.c.event_at
    )
    await session.execute(statement)


async def get_for_task(session: AsyncSession, task_id: uuid.UUID) -> Reminder | None:
    return (
        await session.execute(select(Reminder).where(Reminder.task_id == task_id))
    ).scalar_one_or_none()


async def lock_due(session: AsyncSession, *, now: datetime) -> Sequence[Reminder]:
    """Unsent reminders whose time has come, locked; rows another scan holds are skipped."""
    statement = (
        select(Reminder)
        .where(Reminder.sent_at.is_(None), Reminder.remind_at <= now, Reminder.due_at > now)
        .order_by(Reminder.remind_at)
        .limit(SCAN_BATCH)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalars().all()


async def mark_sent(
    session: AsyncSession, *, reminder_id: uuid.UUID, job_id: uuid.UUID | None
) -> None:
    statement = (
        update(Reminder)
        .where(Reminder.id == reminder_id)
        .values(sent_at=func.now(), job_id=job_id, updated_at=func.now())
    )
    await session.execute(statement)

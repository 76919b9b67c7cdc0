"""notify_svc.repositories.reminders against the real test PostgreSQL (each test rolled back,
on empty tables)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.models import Job, JobKind, JobStatus, JobType, Reminder
from notify_svc.repositories import reminders as reminder_repository

from .conftest import Commit

pytestmark = pytest.mark.integration

OtherTransaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def _values(task_id: uuid.UUID | None = None, **overrides: Any) -> dict[str, Any]:
    """A reminder due in a day, to be sent an hour before, shaped by an event at NOW."""
    return {
        "task_id": task_id or uuid.uuid4(),
        "task_title": "Report",
        "recipient_id": uuid.uuid4(),
        "task_owner_id": uuid.uuid4(),
        "due_at": NOW + timedelta(days=1),
        "remind_at": NOW + timedelta(days=1, hours=-1),
        "event_at": NOW,
        **overrides,
    }


async def _reminder(session: AsyncSession, task_id: uuid.UUID) -> Reminder:
    found = await reminder_repository.get_for_task(session, task_id)
    assert found is not None
    await session.refresh(found)
    return found


async def _sent(session: AsyncSession, task_id: uuid.UUID) -> Reminder:
    """The task's reminder, marked sent with a job of its own."""
    job = Job(
        id=uuid.uuid4(),
        type=JobType.EMAIL.value,
        kind=JobKind.REMINDER.value,
        status=JobStatus.QUEUED.value,
        payload={},
        owner_id=uuid.uuid4(),
    )
    session.add(job)
    await session.flush()
    reminder = await _reminder(session, task_id)
    await reminder_repository.mark_sent(session, reminder_id=reminder.id, job_id=job.id)
    return await _reminder(session, task_id)


async def test_upsert_creates_the_reminder_of_a_task(session: AsyncSession) -> None:
    values = _values()
    await reminder_repository.upsert(session, values)
    stored = await _reminder(session, values["task_id"])
    assert (stored.task_title, stored.due_at, stored.remind_at, stored.sent_at) == (
        "Report",
        values["due_at"],
        values["remind_at"],
        None,
    )


async def test_get_for_task_of_a_task_without_reminder_is_none(session: AsyncSession) -> None:
    assert await reminder_repository.get_for_task(session, uuid.uuid4()) is None


async def test_upsert_keeps_one_reminder_per_task_and_takes_the_newer_event(
    session: AsyncSession,
) -> None:
    task_id = uuid.uuid4()
    await reminder_repository.upsert(session, _values(task_id))
    newer = _values(task_id, task_title="Renamed", event_at=NOW + timedelta(seconds=1))
    await reminder_repository.upsert(session, newer)
    assert (await _reminder(session, task_id)).task_title == "Renamed"
    count = await session.scalars(select(Reminder.id).where(Reminder.task_id == task_id))
    assert len(count.all()) == 1


async def test_upsert_of_an_older_event_changes_nothing(session: AsyncSession) -> None:
    task_id = uuid.uuid4()
    await reminder_repository.upsert(session, _values(task_id))
    older = _values(task_id, task_title="Stale", event_at=NOW - timedelta(seconds=1))
    await reminder_repository.upsert(session, older)
    assert (await _reminder(session, task_id)).task_title == "Report"


async def test_a_moved_deadline_makes_a_sent_reminder_due_again(session: AsyncSession) -> None:
    task_id = uuid.uuid4()
    await reminder_repository.upsert(session, _values(task_id))
    await _sent(session, task_id)
    moved = _values(task_id, due_at=NOW + timedelta(days=2), event_at=NOW + timedelta(seconds=1))
    await reminder_repository.upsert(session, moved)
    stored = await _reminder(session, task_id)
    assert (stored.sent_at, stored.job_id, stored.due_at) == (None, None, NOW + timedelta(days=2))


async def test_an_unchanged_deadline_keeps_the_reminder_sent(session: AsyncSession) -> None:
    task_id = uuid.uuid4()
    await reminder_repository.upsert(session, _values(task_id))
    sent = await _sent(session, task_id)
    renamed = _values(task_id, task_title="Renamed", event_at=NOW + timedelta(seconds=1))
    await reminder_repository.upsert(session, renamed)
    stored = await _reminder(session, task_id)
    assert (stored.sent_at, stored.job_id, stored.task_title) == (
        sent.sent_at,
        sent.job_id,
        "Renamed",
    )


async def test_mark_sent_records_the_time_and_the_job(session: AsyncSession) -> None:
    task_id = uuid.uuid4()
    await reminder_repository.upsert(session, _values(task_id))
    sent = await _sent(session, task_id)
    assert sent.sent_at is not None
    assert sent.job_id is not None


async def test_delete_for_task_only_for_an_event_not_older_than_the_reminders(
    session: AsyncSession,
) -> None:
    task_id = uuid.uuid4()
    await reminder_repository.upsert(session, _values(task_id))
    await reminder_repository.delete_for_task(
        session, task_id=task_id, event_at=NOW - timedelta(seconds=1)
    )
    assert await reminder_repository.get_for_task(session, task_id) is not None
    await reminder_repository.delete_for_task(session, task_id=task_id, event_at=NOW)
    assert await reminder_repository.get_for_task(session, task_id) is None


async def test_delete_for_tasks_applies_each_pair_on_its_own(session: AsyncSession) -> None:
    gone, kept, untouched = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for task_id in (gone, kept, untouched):
        await reminder_repository.upsert(session, _values(task_id))
    await reminder_repository.delete_for_tasks(
        session, [(gone, NOW + timedelta(seconds=1)), (kept, NOW - timedelta(seconds=1))]
    )
    await reminder_repository.delete_for_tasks(session, [])  # nothing to delete: no statement
    assert await reminder_repository.get_for_task(session, gone) is None
    assert await reminder_repository.get_for_task(session, kept) is not None
    assert await reminder_repository.get_for_task(session, untouched) is not None


async def test_lock_due_takes_unsent_reminders_whose_time_came_earliest_first(
    session: AsyncSession,
) -> None:
    later, earlier = uuid.uuid4(), uuid.uuid4()
    sent, not_yet, overdue_task = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await reminder_repository.upsert(session, _values(later, remind_at=NOW - timedelta(minutes=1)))
    await reminder_repository.upsert(session, _values(earlier, remind_at=NOW - timedelta(hours=1)))
    await reminder_repository.upsert(session, _values(sent, remind_at=NOW - timedelta(hours=2)))
    await _sent(session, sent)
    await reminder_repository.upsert(session, _values(not_yet, remind_at=NOW + timedelta(hours=1)))
    # Its deadline has passed: too late for a reminder.
    await reminder_repository.upsert(
        session,
        _values(overdue_task, remind_at=NOW - timedelta(days=2), due_at=NOW - timedelta(days=1)),
    )
    due = await reminder_repository.lock_due(session, now=NOW)
    assert [reminder.task_id for reminder in due] == [earlier, later]


async def test_lock_due_takes_at_most_one_batch(session: AsyncSession) -> None:
    for _ in range(reminder_repository.SCAN_BATCH + 1):
        await reminder_repository.upsert(session, _values(remind_at=NOW - timedelta(hours=1)))
    due = await reminder_repository.lock_due(session, now=NOW)
    assert len(due) == reminder_repository.SCAN_BATCH


async def test_lock_due_skips_reminders_another_scan_holds(
    committed: Commit, other_transaction: OtherTransaction
) -> None:
    first_task, second_task = uuid.uuid4(), uuid.uuid4()
    await committed(
        Reminder(id=uuid.uuid4(), **_values(first_task, remind_at=NOW - timedelta(hours=2))),
        Reminder(id=uuid.uuid4(), **_values(second_task, remind_at=NOW - timedelta(hours=1))),
    )
    async with other_transaction() as first_scan, other_transaction() as second_scan:
        taken = await reminder_repository.lock_due(first_scan, now=NOW)
        assert [reminder.task_id for reminder in taken] == [first_task, second_task]
        assert await reminder_repository.lock_due(second_scan, now=NOW) == []

"""Deadline reminders: kept in step with task-svc's events, sent once by the beat scan."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.clients.auth import AuthUnavailable, fetch_user
from notify_svc.core.config import get_settings
from notify_svc.models import JobKind, JobType, Reminder
from notify_svc.repositories import reminders as reminders_repo
from notify_svc.schemas.events import CLOSED_TASK_STATUSES
from notify_svc.services.jobs import add_job, job_values
from taskhub_common.task_events import TaskEvent

logger = logging.getLogger(__name__)


async def apply_deadline(session: AsyncSession, *, event: TaskEvent) -> None:
    """Create, move or drop the task's reminder to match its deadline and status."""
    task = event.task
    if task.due_at is None or task.status in CLOSED_TASK_STATUSES:
        await forget(session, task_id=task.id, event_at=event.occurred_at)
        return
    lead = timedelta(minutes=get_settings().reminder_lead_minutes)
    await reminders_repo.upsert(
        session,
        {
            "task_id": task.id,
            "task_title": task.title,
            "recipient_id": task.recipient_id,
            "task_owner_id": task.owner_id,
            "due_at": task.due_at,
            "remind_at": task.due_at - lead,
            "event_at": event.occurred_at,
        },
    )


async def forget(session: AsyncSession, *, task_id: uuid.UUID, event_at: datetime) -> None:
    await reminders_repo.delete_for_task(session, task_id=task_id, event_at=event_at)


async def forget_many(session: AsyncSession, *, events: list[tuple[uuid.UUID, datetime]]) -> None:
    """`forget` for many (task id, event time) pairs of distinct tasks, in one statement."""
    await reminders_repo.delete_for_tasks(session, events)


def _reminder_email(reminder: Reminder, address: str) -> dict[str, str]:
    due = reminder.due_at.astimezone(UTC).isoformat(timespec="minutes")
    return {
        "to": address,
        "subject": f"Reminder: {reminder.task_title} is due at {due}"[:200],
        "body": f'The task "{reminder.task_title}" is due at {due}.',
    }


async def send_due_reminders(session: AsyncSession, *, now: datetime) -> list[uuid.UUID]:
    """Turn every due reminder into one e-mail job and mark it sent, in this transaction.

    The rows stay locked until the caller commits, and a concurrent scan skips them, so a
    reminder becomes exactly one job. When auth-svc is down the remaining reminders wait
    for the next scan.
    """
    created: list[uuid.UUID] = []
    for reminder in await reminders_repo.lock_due(session, now=now):
        try:
            user = await fetch_user(reminder.recipient_id)
        except AuthUnavailable:
            logger.warning("reminder scan paused: auth-svc unavailable")
            break
        if user is None:
            logger.warning("reminder recipient unknown", extra={"task_id": str(reminder.task_id)})
            await reminders_repo.mark_sent(session, reminder_id=reminder.id, job_id=None)
            continue
        job = await add_job(
            session,
            job_values(
                job_type=JobType.EMAIL,
                kind=JobKind.REMINDER,
                payload=_reminder_email(reminder, user.email),
                owner_id=user.id,
                task_id=reminder.task_id,
                task_owner_id=reminder.task_owner_id,
            ),
        )
        await reminders_repo.mark_sent(session, reminder_id=reminder.id, job_id=job.id)
        created.append(job.id)
    return created

"""task-svc's events: `task.done` creates the notifications, deadline events keep reminders.

Each event id is handled once: the `processed_events` row commits together with the jobs
it created, so a redelivered event changes nothing and answers with the same job ids.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.clients.auth import AuthUnavailable, UserContact, fetch_user
from notify_svc.models import JobKind, JobType
from notify_svc.repositories import events as events_repo
from notify_svc.repositories import jobs as jobs_repo
from notify_svc.schemas.events import EventType, TaskEvent
from notify_svc.services import reminders
from notify_svc.services.errors import UsersUnavailable
from notify_svc.services.jobs import add_job, job_values

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class EventOutcome:
    duplicate: bool
    job_ids: list[uuid.UUID] = field(default_factory=list)


async def handle_event(session: AsyncSession, *, event: TaskEvent) -> EventOutcome:
    """Apply `event` once; a known event id is a duplicate with the jobs it created."""
    if await events_repo.is_processed(session, event.event_id):
        return await _duplicate(session, event.event_id)
    # The lookup happens before any lock is taken; auth-svc down means "retry later".
    recipient = await _recipient(event) if event.type is EventType.TASK_DONE else None
    if not await events_repo.record(session, event_id=event.event_id, event_type=event.type):
        return await _duplicate(session, event.event_id)
    if event.type is EventType.TASK_DONE:
        await reminders.forget(session, task_id=event.task.id, event_at=event.occurred_at)
        return EventOutcome(
            duplicate=False, job_ids=await _task_done_jobs(session, event, recipient)
        )
    if event.type is EventType.TASK_DEADLINE_CHANGED:
        await reminders.apply_deadline(session, event=event)
    else:
        await reminders.forget(session, task_id=event.task.id, event_at=event.occurred_at)
    return EventOutcome(duplicate=False)


async def _duplicate(session: AsyncSession, event_id: str) -> EventOutcome:
    return EventOutcome(
        duplicate=True, job_ids=await jobs_repo.job_ids_for_event(session, event_id)
    )


async def _recipient(event: TaskEvent) -> UserContact | None:
    try:
        return await fetch_user(event.task.recipient_id)
    except AuthUnavailable as exc:
        raise UsersUnavailable from exc


async def _task_done_jobs(
    session: AsyncSession, event: TaskEvent, recipient: UserContact | None
) -> list[uuid.UUID]:
    task = event.task
    created = []
    if recipient is None:
        # The user is gone from auth-svc: nobody to write to, but the webhook still goes.
        logger.warning("task.done recipient unknown", extra={"task_id": str(task.id)})
    else:
        payload = {
            "to": recipient.email,
            "subject": f"Task done: {task.title}"[:200],
            "body": f'The task "{task.title}" is done.',
        }
        job = await add_job(
            session,
            job_values(
                job_type=JobType.EMAIL,
                kind=JobKind.TASK_DONE,
                payload=payload,
                owner_id=recipient.id,
                task_id=task.id,
                task_owner_id=task.owner_id,
                event_id=event.event_id,
            ),
        )
        created.append(job.id)
    if task.webhook_url:
        body = {
            "event": event.type.value,
            "event_id": event.event_id,
            "occurred_at": event.occurred_at.isoformat(),
            "task": event.task.model_dump(mode="json", exclude={"webhook_url"}),
        }
        job = await add_job(
            session,
            job_values(
                job_type=JobType.WEBHOOK,
                kind=JobKind.TASK_DONE,
                payload={"url": task.webhook_url, "payload": body},
                owner_id=task.owner_id,
                task_id=task.id,
                task_owner_id=task.owner_id,
                event_id=event.event_id,
            ),
        )
        created.append(job.id)
    return created

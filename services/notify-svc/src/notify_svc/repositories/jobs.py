"""All SQL about jobs, dead letters and the e-mail outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.models import FailedNotification, Job, JobStatus, SentEmail

# Upper bound of rows one sweep touches: a backlog is worked off over several runs.
SWEEP_BATCH = 500


async def insert_job(session: AsyncSession, values: dict[str, Any]) -> Job | None:
    """Insert a job; None when its (owner, idempotency key) already exists."""
    statement = (
        insert(Job)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_nothing(index_elements=["owner_id", "idempotency_key"])
        .returning(Job)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def insert_jobs(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many jobs without idempotency keys in one statement (each row has its `id`)."""
    if rows:
        await session.execute(insert(Job).values(list(rows)))


async def get_by_idempotency_key(
    session: AsyncSession, *, owner_id: uuid.UUID, key: str
) -> Job | None:
    statement = select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key)
    return (await session.execute(statement)).scalar_one_or_none()


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.get(Job, job_id)


def _visible_to(user_id: uuid.UUID) -> Any:
    return or_(Job.owner_id == user_id, Job.task_owner_id == user_id)


async def list_jobs(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    status: JobStatus | None,
    kind: str | None,
    task_id: uuid.UUID | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Job], int]:
    """A page of the jobs a user owns or that belong to the user's tasks, newest first."""
    query = select(Job).where(_visible_to(user_id))
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if task_id is not None:
        query = query.where(Job.task_id == task_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = query.order_by(Job.created_at.desc(), Job.id).offset(offset).limit(limit)
    return (await session.execute(page)).scalars().all(), total


async def cancel_scheduled(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    """scheduled -> canceled in one statement; None when the job was not scheduled."""
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.SCHEDULED)
        .values(status=JobStatus.CANCELED, updated_at=func.now())
        .returning(Job)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def release_scheduled(session: AsyncSession, job_id: uuid.UUID) -> bool:
    """scheduled -> queued; False when it was canceled or released already."""
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.SCHEDULED)
        .values(status=JobStatus.QUEUED, updated_at=func.now())
        .returning(Job.id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def lock_for_delivery(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    """The job, row-locked for this delivery; None when missing or another delivery holds it."""
    statement = select(Job).where(Job.id == job_id).with_for_update(skip_locked=True)
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_queued(session: AsyncSession, job_ids: Sequence[uuid.UUID]) -> list[Job]:
    """The queued jobs among `job_ids`, row-locked; rows another delivery holds are skipped."""
    statement = (
        select(Job)
        .where(Job.id.in_(job_ids), Job.status == JobStatus.QUEUED)
        .order_by(Job.id)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(statement)).scalars())


async def mark_sent(session: AsyncSession, job_ids: Sequence[uuid.UUID]) -> None:
    """Record one successful attempt of each job (the e-mails of a batch), in one statement."""
    if job_ids:
        await session.execute(
            update(Job)
            .where(Job.id.in_(job_ids))
            .values(
                status=JobStatus.OK,
                attempts=Job.attempts + 1,
                last_error=None,
                delivered_at=func.now(),
                updated_at=func.now(),
            )
            .execution_options(synchronize_session=False)
        )


async def lock_to_record(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    """The job, row-locked to record an attempt's outcome (waits for a brief other holder)."""
    statement = select(Job).where(Job.id == job_id).with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def delivery_key(
    session: AsyncSession, job_id: uuid.UUID
) -> tuple[uuid.UUID, str, str] | None:
    """(owner, type, status) of the job, read without a lock nor an ORM object."""
    statement = select(Job.owner_id, Job.type, Job.status).where(Job.id == job_id)
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row.owner_id, row.type, row.status)


async def touch_stuck_queued(session: AsyncSession, *, older_than: datetime) -> list[uuid.UUID]:
    """Claim queued jobs untouched since `older_than` (their broker message may be lost)."""
    stuck = (
        select(Job.id)
        .where(Job.status == JobStatus.QUEUED, Job.updated_at < older_than)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
    statement = update(Job).where(Job.id.in_(stuck)).values(updated_at=func.now()).returning(Job.id)
    return list((await session.execute(statement)).scalars())


async def release_overdue_scheduled(
    session: AsyncSession, *, due_before: datetime
) -> list[uuid.UUID]:
    """scheduled -> queued for jobs whose release never came (ARQ's Redis lost them)."""
    overdue = (
        select(Job.id)
        .where(Job.status == JobStatus.SCHEDULED, Job.send_at < due_before)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(Job)
        .where(Job.id.in_(overdue))
        .values(status=JobStatus.QUEUED, updated_at=func.now())
        .returning(Job.id)
    )
    return list((await session.execute(statement)).scalars())


async def job_ids_for_event(session: AsyncSession, event_id: str) -> list[uuid.UUID]:
    statement = select(Job.id).where(Job.event_id == event_id).order_by(Job.created_at, Job.id)
    return list((await session.execute(statement)).scalars())


async def job_ids_for_events(
    session: AsyncSession, event_ids: Sequence[str]
) -> dict[str, list[uuid.UUID]]:
    """The jobs each event created, in creation order (one query for a whole batch)."""
    statement = (
        select(Job.event_id, Job.id)
        .where(Job.event_id.in_(event_ids))
        .order_by(Job.created_at, Job.id)
    )
    found: dict[str, list[uuid.UUID]] = {event_id: [] for event_id in event_ids}
    for event_id, job_id in await session.execute(statement):
        if event_id is not None:
            found[event_id].append(job_id)
    return found


async def add_dead_letter(session: AsyncSession, job: Job) -> None:
    statement = (
        insert(FailedNotification)
        .values(id=uuid.uuid4(), job_id=job.id, attempts=job.attempts, last_error=job.last_error)
        .on_conflict_do_nothing(index_elements=["job_id"])
    )
    await session.execute(statement)


async def list_dead_letters(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[Sequence[FailedNotification], int]:
    total = (await session.execute(select(func.count(FailedNotification.id)))).scalar_one()
    page = (
        select(FailedNotification)
        .order_by(FailedNotification.failed_at.desc(), FailedNotification.id)
        .offset(offset)
        .limit(limit)
    )
    return (await session.execute(page)).scalars().all(), total


async def add_sent_emails(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Outbox rows of many e-mails (job_id, recipient_hash, subject) in one statement."""
    if rows:
        statement = (
            insert(SentEmail)
            .values([{"id": uuid.uuid4(), **row} for row in rows])
            .on_conflict_do_nothing(index_elements=["job_id"])
        )
        await session.execute(statement)


async def add_sent_email(
    session: AsyncSession, *, job_id: uuid.UUID, recipient_hash: str, subject: str
) -> None:
    statement = (
        insert(SentEmail)
        .values(id=uuid.uuid4(), job_id=job_id, recipient_hash=recipient_hash, subject=subject)
        .on_conflict_do_nothing(index_elements=["job_id"])
    )
    await session.execute(statement)

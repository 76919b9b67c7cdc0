"""Creating, reading and canceling notification jobs (the API side)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.core import ssrf
from notify_svc.core.config import get_settings
from notify_svc.core.metrics import NOTIFY_JOBS
from notify_svc.models import FailedNotification, Job, JobKind, JobStatus, JobType
from notify_svc.repositories import jobs as jobs_repo
from notify_svc.schemas.jobs import EmailJobCreate, JobCreate, WebhookJobCreate
from notify_svc.services.errors import (
    IdempotencyKeyReused,
    JobNotCancelable,
    JobNotFound,
    UnsafeWebhookUrl,
)
from taskhub_common.auth import Principal
from taskhub_common.errors import FieldError


def initial_status(send_at: datetime | None, now: datetime | None = None) -> JobStatus:
    """Jobs due later wait as `scheduled` (ARQ releases them); the rest go straight out."""
    now = now or datetime.now(UTC)
    return JobStatus.SCHEDULED if send_at is not None and send_at > now else JobStatus.QUEUED


def job_values(
    *,
    job_type: JobType,
    kind: JobKind,
    payload: dict[str, Any],
    owner_id: uuid.UUID,
    send_at: datetime | None = None,
    task_id: uuid.UUID | None = None,
    task_owner_id: uuid.UUID | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "type": job_type.value,
        "kind": kind.value,
        "status": initial_status(send_at).value,
        "payload": payload,
        "owner_id": owner_id,
        "send_at": send_at,
        "task_id": task_id,
        "task_owner_id": task_owner_id,
        "event_id": event_id,
    }


async def add_job(session: AsyncSession, values: dict[str, Any]) -> Job:
    """Insert a job without an idempotency key (events and reminders have their own)."""
    job = await jobs_repo.insert_job(session, values)
    assert job is not None  # no key, so no conflict is possible
    NOTIFY_JOBS.labels(job.type, job.status).inc()
    return job


async def _create_manual_job(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    job_type: JobType,
    data: JobCreate,
    payload: dict[str, Any],
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """The new job and True, or the job created earlier under the same key and False."""
    values = job_values(
        job_type=job_type,
        kind=JobKind.MANUAL,
        payload=payload,
        owner_id=owner_id,
        send_at=data.send_at,
    )
    if idempotency_key is None:
        return await add_job(session, values), True
    fingerprint = data.fingerprint(job_type)
    values |= {"idempotency_key": idempotency_key, "request_fingerprint": fingerprint}
    job = await jobs_repo.insert_job(session, values)
    if job is not None:
        NOTIFY_JOBS.labels(job.type, job.status).inc()
        return job, True
    existing = await jobs_repo.get_by_idempotency_key(
        session, owner_id=owner_id, key=idempotency_key
    )
    assert existing is not None  # the conflict that stopped the insert is this row
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused
    return existing, False


async def create_email_job(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    data: EmailJobCreate,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """Queue (or schedule) an e-mail; see `_create_manual_job` for the return value."""
    payload = {"to": str(data.to), "subject": data.subject, "body": data.body}
    return await _create_manual_job(
        session,
        owner_id=owner_id,
        job_type=JobType.EMAIL,
        data=data,
        payload=payload,
        idempotency_key=idempotency_key,
    )


async def create_webhook_job(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    data: WebhookJobCreate,
    idempotency_key: str | None,
) -> tuple[Job, bool]:
    """Queue (or schedule) a webhook after checking its target (checked again at delivery)."""
    settings = get_settings()
    try:
        target = ssrf.parse_target(data.url)
        await ssrf.check_target(
            target,
            allowlist=ssrf.normalise_allowlist(settings.webhook_allowlist),
            dns_timeout=settings.webhook_dns_timeout_seconds,
        )
    except (ssrf.UnsafeTarget, ssrf.TargetUnresolvable) as exc:
        raise UnsafeWebhookUrl(details=[FieldError(field="body.url", message=str(exc))]) from exc
    payload = {"url": data.url, "payload": data.payload}
    return await _create_manual_job(
        session,
        owner_id=owner_id,
        job_type=JobType.WEBHOOK,
        data=data,
        payload=payload,
        idempotency_key=idempotency_key,
    )


def _can_see(principal: Principal, job: Job) -> bool:
    return principal.is_admin or principal.user_id in (job.owner_id, job.task_owner_id)


async def get_visible_job(session: AsyncSession, *, principal: Principal, job_id: uuid.UUID) -> Job:
    """The job when the caller may see it; otherwise `JobNotFound` (never 403: no probing)."""
    job = await jobs_repo.get_job(session, job_id)
    if job is None or not _can_see(principal, job):
        raise JobNotFound
    return job


async def list_jobs(
    session: AsyncSession,
    *,
    principal: Principal,
    status: JobStatus | None,
    kind: JobKind | None,
    task_id: uuid.UUID | None,
    page: int,
    limit: int,
) -> tuple[Sequence[Job], int]:
    return await jobs_repo.list_jobs(
        session,
        user_id=principal.user_id,
        status=status,
        kind=kind.value if kind is not None else None,
        task_id=task_id,
        offset=(page - 1) * limit,
        limit=limit,
    )


async def cancel_job(session: AsyncSession, *, principal: Principal, job_id: uuid.UUID) -> Job:
    """scheduled -> canceled; `JobNotCancelable` for a job in any other status."""
    job = await get_visible_job(session, principal=principal, job_id=job_id)
    canceled = await jobs_repo.cancel_scheduled(session, job.id)
    if canceled is None:
        raise JobNotCancelable
    NOTIFY_JOBS.labels(canceled.type, canceled.status).inc()
    return canceled


async def list_dead_letters(
    session: AsyncSession, *, page: int, limit: int
) -> tuple[Sequence[FailedNotification], int]:
    return await jobs_repo.list_dead_letters(session, offset=(page - 1) * limit, limit=limit)


async def release_scheduled_job(session: AsyncSession, *, job_id: uuid.UUID) -> bool:
    """scheduled -> queued at send_at; False when it was canceled (or released) first."""
    return await jobs_repo.release_scheduled(session, job_id)


async def claim_stuck_jobs(
    session: AsyncSession, *, stuck_seconds: int, now: datetime | None = None
) -> list[uuid.UUID]:
    """Jobs to enqueue again: queued ones nobody touched for `stuck_seconds`, and
    scheduled ones whose release is that overdue (their ARQ job was lost)."""
    threshold = (now or datetime.now(UTC)) - timedelta(seconds=stuck_seconds)
    stuck = await jobs_repo.touch_stuck_queued(session, older_than=threshold)
    released = await jobs_repo.release_overdue_scheduled(session, due_before=threshold)
    return stuck + released

"""Notification job endpoints: queue e-mails and webhooks, read, list and cancel jobs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Response, status

from notify_svc.api.deps import (
    AdminUser,
    DbSession,
    IdempotencyKey,
    NotifyReader,
    NotifyWriter,
    VisibleJob,
)
from notify_svc.api.quota import RATE_LIMIT_HEADERS, SubmissionQuota
from notify_svc.models import Job, JobKind, JobStatus, JobType
from notify_svc.schemas.jobs import (
    DeadLetterPage,
    DeadLetterRead,
    EmailJobCreate,
    JobAccepted,
    JobPage,
    JobRead,
    WebhookJobCreate,
)
from notify_svc.services import jobs as jobs_service
from notify_svc.worker import dispatch
from taskhub_common.errors import error_responses

router = APIRouter(prefix="/notify", tags=["jobs"])

Page = Annotated[int, Query(ge=1, le=100_000)]
Limit = Annotated[int, Query(ge=1, le=100)]

ACCEPTED_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"headers": RATE_LIMIT_HEADERS},
    200: {
        "model": JobAccepted,
        "description": "A replay: the job created earlier.",
        "headers": RATE_LIMIT_HEADERS,
    },
    **error_responses(401, 403, 409, 422, 429),
}
ACCEPTED_DOC = "Accepted: a new job. A replay with the same Idempotency-Key answers 200."
QUOTA_DOC = (
    " At most `NOTIFY_SUBMIT_RATE_LIMIT` (default 60/minute, a moving window) e-mail and "
    "webhook submissions per user together; every authenticated attempt counts. Over the "
    "limit: 429 with `Retry-After`."
)


def _accepted(
    job: Job, created: bool, response: Response, background: BackgroundTasks
) -> JobAccepted:
    if created:
        # Runs after the response, hence after the commit: a worker always finds the row.
        background.add_task(
            dispatch.dispatch_new_job,
            job.id,
            job.send_at,
            job.status == JobStatus.SCHEDULED,
            webhook=job.type == JobType.WEBHOOK,
        )
    else:
        response.status_code = status.HTTP_200_OK
    return JobAccepted(id=job.id, status=JobStatus(job.status))


@router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_description=ACCEPTED_DOC,
    responses=ACCEPTED_RESPONSES,
    description="Queue an e-mail now, or at `send_at`." + QUOTA_DOC,
)
async def queue_email(
    _quota: SubmissionQuota,
    body: EmailJobCreate,
    principal: NotifyWriter,
    session: DbSession,
    response: Response,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Queue an e-mail now, or at `send_at`."""
    job, created = await jobs_service.create_email_job(
        session, owner_id=principal.user_id, data=body, idempotency_key=idempotency_key
    )
    return _accepted(job, created, response, background)


@router.post(
    "/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    response_description=ACCEPTED_DOC,
    responses=ACCEPTED_RESPONSES,
    description="Queue a signed webhook POST now, or at `send_at`; private targets are refused."
    + QUOTA_DOC,
)
async def queue_webhook(
    _quota: SubmissionQuota,
    body: WebhookJobCreate,
    principal: NotifyWriter,
    session: DbSession,
    response: Response,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> JobAccepted:
    """Queue a signed webhook POST now, or at `send_at`; private targets are refused."""
    job, created = await jobs_service.create_webhook_job(
        session, owner_id=principal.user_id, data=body, idempotency_key=idempotency_key
    )
    return _accepted(job, created, response, background)


@router.get("/jobs", name="list", response_model=JobPage, responses=error_responses(401, 403, 422))
async def list_jobs(
    principal: NotifyReader,
    session: DbSession,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    kind: JobKind | None = None,
    task_id: uuid.UUID | None = None,
    page: Page = 1,
    limit: Limit = 20,
) -> JobPage:
    """The caller's jobs, and those created for the caller's tasks, newest first."""
    items, total = await jobs_service.list_jobs(
        session,
        principal=principal,
        status=status_,
        kind=kind,
        task_id=task_id,
        page=page,
        limit=limit,
    )
    return JobPage(
        items=[JobRead.model_validate(job) for job in items], total=total, page=page, limit=limit
    )


@router.get(
    "/jobs/{job_id}",
    name="get",
    response_model=JobRead,
    responses=error_responses(401, 403, 404, 422),
)
async def read_job(job: VisibleJob) -> JobRead:
    """One job (its owner, the owner of its task, or an admin)."""
    return JobRead.model_validate(job)


@router.delete(
    "/jobs/{job_id}",
    name="cancel",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_job(
    job_id: uuid.UUID, principal: NotifyWriter, session: DbSession, background: BackgroundTasks
) -> Response:
    """Cancel a scheduled job (409 once it is queued or done)."""
    job = await jobs_service.cancel_job(session, principal=principal, job_id=job_id)
    background.add_task(dispatch.abort_release, job.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/failed",
    name="list_failed",
    response_model=DeadLetterPage,
    responses=error_responses(401, 403, 422),
)
async def list_dead_letters(
    _: AdminUser, session: DbSession, page: Page = 1, limit: Limit = 20
) -> DeadLetterPage:
    """Dead letters: jobs that failed every attempt (administrators only)."""
    items, total = await jobs_service.list_dead_letters(session, page=page, limit=limit)
    return DeadLetterPage(
        items=[DeadLetterRead.model_validate(item) for item in items],
        total=total,
        page=page,
        limit=limit,
    )

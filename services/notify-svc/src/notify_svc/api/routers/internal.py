"""Service-to-service endpoints (never routed by the gateway): task-svc's event relay."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Response, status

from notify_svc.api.deps import DbSession, IdempotencyKey, internal_caller
from notify_svc.schemas.events import EventAccepted, EventBatch, EventBatchResult
from notify_svc.services import events as events_service
from notify_svc.worker import dispatch
from taskhub_common.errors import ValidationFailed, error_responses
from taskhub_common.task_events import TaskEvent

# Unpublished: the OpenAPI document describes the public API only (the gateway never
# routes /internal/, and its shape is no business of outside callers).
router = APIRouter(
    prefix="/internal",
    tags=["internal"],
    dependencies=[internal_caller],
    include_in_schema=False,
)


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EventAccepted,
    responses={
        200: {"model": EventAccepted, "description": "A repeat: already applied."},
        **error_responses(401, 422, 503),
    },
)
async def receive_event(
    event: TaskEvent,
    session: DbSession,
    response: Response,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> EventAccepted:
    """Apply a task event once per id: 202 the first time, 200 for a repeat; 503 = retry."""
    if idempotency_key is not None and idempotency_key != event.event_id:
        raise ValidationFailed("The Idempotency-Key header must equal event_id.")
    outcome = await events_service.handle_event(session, event=event)
    if outcome.duplicate:
        response.status_code = status.HTTP_200_OK
    else:
        background.add_task(dispatch.enqueue_batch, outcome.emails, outcome.webhook_ids)
    return EventAccepted(
        event_id=event.event_id, duplicate=outcome.duplicate, job_ids=outcome.job_ids
    )


@router.post(
    "/events/batch",
    response_model=EventBatchResult,
    responses=error_responses(401, 422),
)
async def receive_events(
    batch: EventBatch, session: DbSession, background: BackgroundTasks
) -> EventBatchResult:
    """Apply many task events, each once per id; one answer per event, in order.

    Each result carries the status `/internal/events` would have answered for that event
    (202, 200 for a repeat, 422 refused, 503 retry later), so the relay retries or parks
    only those. The jobs are handed to Celery together once the transaction committed.
    """
    applied = await events_service.apply_batch(session, batch.events)
    # After the response, and so after the commit (the session dependency commits first).
    background.add_task(dispatch.enqueue_batch, applied.emails, applied.webhooks)
    return EventBatchResult(results=applied.results)

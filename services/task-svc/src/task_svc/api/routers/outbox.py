"""Outbox administration: events notify-svc rejected for good, and their requeueing."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from task_svc.api.deps import AdminUser, DbSession
from task_svc.schemas.outbox import ParkedEventRead
from task_svc.services import outbox as outbox_service
from taskhub_common.errors import error_responses
from taskhub_common.pages import Page, PageNumber, PageSize

router = APIRouter(prefix="/tasks/outbox", tags=["outbox"])


@router.get(
    "/parked",
    name="list_parked",
    response_model=Page[ParkedEventRead],
    responses=error_responses(401, 403, 422),
)
async def list_parked_events(
    _: AdminUser, session: DbSession, page: PageNumber = 1, limit: PageSize = 20
) -> Page[ParkedEventRead]:
    """Events notify-svc refused or failed every attempt, with their last error
    (administrators only). They no longer hold back their task's later events."""
    items, total = await outbox_service.list_parked(session, page=page, limit=limit)
    return Page(
        items=[ParkedEventRead.model_validate(item) for item in items],
        total=total,
        page=page,
        limit=limit,
    )


@router.post(
    "/parked/{event_id}/requeue",
    name="requeue",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
async def requeue_parked_event(_: AdminUser, session: DbSession, event_id: uuid.UUID) -> Response:
    """Send a parked event again, with fresh attempts, once its cause is fixed."""
    await outbox_service.requeue(session, event_id=event_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

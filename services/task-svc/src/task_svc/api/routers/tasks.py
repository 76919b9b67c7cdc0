"""The task endpoints: thin wrappers over `task_svc.services.tasks`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from task_svc.api.deps import (
    CreationQuota,
    DbSession,
    ListCache,
    Reads,
    TasksReader,
    TasksWriter,
    Users,
)
from task_svc.schemas.tasks import (
    BulkStatusRequest,
    BulkStatusResult,
    TaskCreate,
    TaskListQuery,
    TaskPage,
    TaskRead,
    TaskUpdate,
)
from task_svc.services import tasks as task_service
from taskhub_common.errors import error_responses
from taskhub_common.query import QueryModel

router = APIRouter(prefix="/tasks", tags=["tasks"])

RATE_LIMIT_HEADERS = {
    "RateLimit-Policy": {
        "description": 'The creation quota, e.g. `"create";q=60;w=60` (IETF RateLimit fields).',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it, e.g. `"create";r=59;t=60` (t: seconds until '
        "one more creation is allowed).",
        "schema": {"type": "string"},
    },
    "Location": {"description": "The URL of the new task.", "schema": {"type": "string"}},
}


@router.post(
    "",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    responses={
        201: {"description": "Created", "headers": RATE_LIMIT_HEADERS},
        **error_responses(401, 403, 422, 429, 503),
    },
    summary="Create a task owned by the caller",
    description=(
        "At most `TASKS_CREATE_RATE_LIMIT` (default 60/minute, a moving window) creations per "
        "user; every authenticated attempt counts, also one refused with 422. Over the limit: "
        "429 with `Retry-After`. `assignee_id` must be a user of auth-svc (422 otherwise, 503 "
        "when auth-svc cannot answer)."
    ),
)
async def create_task(
    body: TaskCreate,
    user: TasksWriter,
    session: DbSession,
    users: Users,
    _quota: CreationQuota,
    response: Response,
) -> TaskRead:
    task = await task_service.create_task(session, owner=user, data=body, users=users)
    response.headers["Location"] = f"/tasks/{task.id}"
    return TaskRead.model_validate(task)


# The hottest endpoint's query string: validated by the model in one call (see QueryModel).
task_list_query = QueryModel(TaskListQuery)


@router.get(
    "",
    name="list",
    response_model=TaskPage,
    responses=error_responses(401, 403, 422),
    openapi_extra=task_list_query.openapi_extra,
    summary="List the caller's tasks",
    description=(
        "Tasks the caller owns or is assigned to (an admin: all), newest first "
        "(`created_at` desc, then `id` desc). `status` and `tag` are repeatable: any of the "
        "statuses, and ALL of the tags. `due_before`/`due_after` are exclusive bounds. "
        "`limit` is 1..100 (more is a 422)."
    ),
)
async def list_tasks(
    query: Annotated[TaskListQuery, Depends(task_list_query)],
    user: TasksReader,
    reads: Reads,
    cache: ListCache,
) -> Response:
    # The page is JSON rendered by the database, or kept from an earlier identical request
    # (see read_models.page_cache).
    document = await task_service.list_tasks(reads, principal=user, query=query, cache=cache)
    return Response(content=document, media_type="application/json")


@router.post(
    "/bulk-status",
    response_model=BulkStatusResult,
    responses=error_responses(401, 403, 422),
    summary="Set the status of many tasks",
    description=(
        "Up to 100 unique ids. Tasks the caller may not change (not owner, assignee or admin) "
        "and unknown ids are reported in `not_found`; `updated` lists the others, whether "
        "or not their status was already the requested one."
    ),
)
async def bulk_set_status(
    body: BulkStatusRequest, user: TasksWriter, session: DbSession
) -> BulkStatusResult:
    return await task_service.bulk_set_status(
        session, principal=user, task_ids=body.ids, status=body.status
    )


@router.get(
    "/{task_id}",
    name="get",
    response_model=TaskRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Get one task",
)
async def get_task(task_id: uuid.UUID, user: TasksReader, reads: Reads) -> TaskRead:
    # One primary-key read: the autocommit read pool, no transaction around it.
    task = await task_service.get_task(reads, principal=user, task_id=task_id)
    return TaskRead.model_validate(task)


@router.patch(
    "/{task_id}",
    name="update",
    response_model=TaskRead,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Change a task",
    description=(
        "Only the fields sent change. The owner (or an admin) may change every field; the "
        "assignee only `status` (403 otherwise). `owner_id` is never writable (422)."
    ),
)
async def update_task(
    task_id: uuid.UUID, body: TaskUpdate, user: TasksWriter, session: DbSession, users: Users
) -> TaskRead:
    task = await task_service.update_task(
        session, principal=user, task_id=task_id, changes=body, users=users
    )
    return TaskRead.model_validate(task)


@router.delete(
    "/{task_id}",
    name="delete",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
    summary="Delete a task (owner or admin)",
)
async def delete_task(task_id: uuid.UUID, user: TasksWriter, session: DbSession) -> None:
    await task_service.delete_task(session, principal=user, task_id=task_id)

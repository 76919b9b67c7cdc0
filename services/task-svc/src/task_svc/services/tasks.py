"""Task use cases: create, read, change, delete, bulk status, list (each writes its events)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.db.read_pool import ReadConnections
from task_svc.models import Task, TaskStatus
from task_svc.repositories import outbox as outbox_repository
from task_svc.repositories import tasks as task_repository
from task_svc.schemas.tasks import (
    BulkStatusResult,
    TaskCreate,
    TaskListQuery,
    TaskUpdate,
)
from task_svc.services.assignees import UserDirectory
from task_svc.services.events import TaskSnapshot, events_for_change
from task_svc.services.list_cache import ListPageCache, query_key
from taskhub_common.auth import Principal
from taskhub_common.errors import Forbidden, NotFound

# What an assignee who does not own the task may change.
ASSIGNEE_FIELDS = frozenset({"status"})


class TaskNotFound(NotFound):
    message = "The task was not found."


class TaskChangeForbidden(Forbidden):
    message = "An assignee may change only the status of a task."


class TaskDeleteForbidden(Forbidden):
    message = "Only the owner of a task may delete it."


def _manages(principal: Principal, task: Task) -> bool:
    """Owner or admin: may change anything and delete."""
    return principal.is_admin or task.owner_id == principal.user_id


async def create_task(
    session: AsyncSession, *, owner: Principal, data: TaskCreate, users: UserDirectory
) -> Task:
    """A new task owned by the caller."""
    if data.assignee_id is not None:
        await users.ensure_exists(data.assignee_id, field="body.assignee_id")
    fields = data.model_dump(exclude={"tags"})
    task = Task(id=uuid.uuid4(), owner_id=owner.user_id, **fields)
    await task_repository.bump_list_versions(session, [owner.user_id, data.assignee_id])
    task.tags = await task_repository.tags_named(session, data.tags)
    await task_repository.add_task(session, task)
    outbox_repository.add_events(session, events_for_change(None, TaskSnapshot.of(task)))
    return task


async def get_task(session: AsyncSession, *, principal: Principal, task_id: uuid.UUID) -> Task:
    """A task the caller may see, else `TaskNotFound` (never "exists but not yours")."""
    task = await task_repository.get_task(session, task_id, principal=principal)
    if task is None:
        raise TaskNotFound
    return task


async def update_task(
    session: AsyncSession,
    *,
    principal: Principal,
    task_id: uuid.UUID,
    changes: TaskUpdate,
    users: UserDirectory,
) -> Task:
    """Apply a partial update: owner/admin anything, the assignee only `status`."""
    task = await task_repository.get_task(session, task_id, principal=principal, lock=True)
    if task is None:
        raise TaskNotFound
    fields = changes.changes()
    if not _manages(principal, task) and not fields.keys() <= ASSIGNEE_FIELDS:
        raise TaskChangeForbidden
    new_assignee = fields.get("assignee_id")
    if new_assignee is not None and new_assignee != task.assignee_id:
        await users.ensure_exists(new_assignee, field="body.assignee_id")
    before = TaskSnapshot.of(task)
    await task_repository.bump_list_versions(
        session, [task.owner_id, task.assignee_id, fields.get("assignee_id")]
    )
    await _apply(session, task, fields)
    await session.flush()
    await session.refresh(task, ["updated_at"])
    outbox_repository.add_events(session, events_for_change(before, TaskSnapshot.of(task)))
    return task


async def _apply(session: AsyncSession, task: Task, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name == "tags":
            task.tags = await task_repository.tags_named(session, value)
        else:
            setattr(task, name, value)


async def delete_task(session: AsyncSession, *, principal: Principal, task_id: uuid.UUID) -> None:
    """Delete a task (owner/admin; the assignee gets 403, anyone else 404)."""
    task = await task_repository.get_task(session, task_id, principal=principal, lock=True)
    if task is None:
        raise TaskNotFound
    if not _manages(principal, task):
        raise TaskDeleteForbidden
    before = TaskSnapshot.of(task)
    await task_repository.bump_list_versions(session, [task.owner_id, task.assignee_id])
    await task_repository.delete_task(session, task.id)
    outbox_repository.add_events(session, events_for_change(before, None))


async def bulk_set_status(
    session: AsyncSession,
    *,
    principal: Principal,
    task_ids: list[uuid.UUID],
    status: TaskStatus,
) -> BulkStatusResult:
    """Set `status` on every task the caller may change; the others are `not_found`.

    Owners, assignees and admins may all change a status, so "may change" is "may see".
    """
    tasks = {
        task.id: task
        for task in await task_repository.lock_tasks(session, task_ids, principal=principal)
    }
    changing = [task for task in tasks.values() if task.status is not status]
    await task_repository.bump_list_versions(
        session, [user for task in changing for user in (task.owner_id, task.assignee_id)]
    )
    for task in changing:
        before = TaskSnapshot.of(task)
        task.status = status
        outbox_repository.add_events(
            session, events_for_change(before, replace(before, status=status))
        )
    await session.flush()
    return BulkStatusResult(
        updated=[task_id for task_id in task_ids if task_id in tasks],
        not_found=[task_id for task_id in task_ids if task_id not in tasks],
    )


async def list_tasks(
    reads: ReadConnections,
    *,
    principal: Principal,
    query: TaskListQuery,
    cache: ListPageCache,
) -> bytes:
    """The JSON document of one page of the caller's visible tasks.

    A page kept for the current version of the caller's list is served as is (see
    `services.list_cache`); otherwise PostgreSQL renders it, with the version it shows.
    """
    async with reads.connection() as connection:
        if principal.is_admin or not cache.enabled:
            cache.bypassed()
            document, _ = await task_repository.list_page_json(
                connection, principal=principal, query=query
            )
            return document.encode()
        page_of_query = query_key(query)
        version = await task_repository.list_version(connection, principal.user_id)
        kept = cache.get((principal.user_id, version, page_of_query))
        if kept is not None:
            return kept
        document, shown_version = await task_repository.list_page_json(
            connection, principal=principal, query=query
        )
    page = document.encode()
    assert shown_version is not None  # read for every caller but admins
    cache.put((principal.user_id, shown_version, page_of_query), page)
    return page

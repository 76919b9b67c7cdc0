"""Task use cases: create, read, change, delete, bulk status, list (each writes its events)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.db.read_pool import ReadConnection, ReadConnections
from task_svc.models import Task, TaskStatus
from task_svc.read_models import task_list
from task_svc.read_models.page_cache import (
    CHECKS_IN_RENDER_AFTER_CHANGE,
    KeptPage,
    ListPageCache,
    query_key,
)
from task_svc.repositories import outbox as outbox_repository
from task_svc.repositories import tasks as task_repository
from task_svc.repositories.tasks import ListChange, TaskRecord
from task_svc.schemas.tasks import (
    BulkStatusResult,
    TaskCreate,
    TaskListQuery,
    TaskUpdate,
)
from task_svc.services.assignees import UserDirectory
from task_svc.services.errors import TaskChangeForbidden, TaskDeleteForbidden, TaskNotFound
from task_svc.services.events import TaskSnapshot, events_for_change
from taskhub_common.auth import Principal

# What an assignee who does not own the task may change.
ASSIGNEE_FIELDS = frozenset({"status"})


def _manages(principal: Principal, task: Task | TaskRecord) -> bool:
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
    task.tags = await task_repository.tags_named(session, data.tags)
    outbox_repository.add_events(session, events_for_change(None, TaskSnapshot.of(task)))
    await task_repository.add_task(session, task)
    await task_repository.bump_list_versions(
        session, ListChange.of([owner.user_id, data.assignee_id], task_id=task.id)
    )
    return task


async def get_task(
    reads: ReadConnections, *, principal: Principal, task_id: uuid.UUID
) -> TaskRecord:
    """A task the caller may see, else `TaskNotFound` (never "exists but not yours")."""
    async with reads.connection() as connection:
        task = await task_repository.task_record(connection, task_id, principal=principal)
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
) -> TaskRecord:
    """Apply a partial update: owner/admin anything, the assignee only `status`.

    Two statements, unless tags change: lock the task (with its tags), then write the
    change, the list versions and the events at once (`save_change`).
    """
    connection = await task_repository.transaction_connection(session)
    task = await task_repository.task_record(connection, task_id, principal=principal, lock=True)
    if task is None:
        raise TaskNotFound
    fields = changes.changes()
    if not _manages(principal, task) and not fields.keys() <= ASSIGNEE_FIELDS:
        raise TaskChangeForbidden
    new_assignee = fields.get("assignee_id")
    if new_assignee is not None and new_assignee != task.assignee_id:
        await users.ensure_exists(new_assignee, field="body.assignee_id")
    tags: list[str] | None = fields.pop("tags", None)
    tags_changed = tags is not None and tags != task.tags
    if tags_changed:
        tag_rows = await task_repository.tags_named(session, tags or [])
        await task_repository.replace_tags(session, task.id, tag_rows)
    # Only what differs is written: a change to the same value leaves `updated_at` alone.
    changed = {name: value for name, value in fields.items() if getattr(task, name) != value}
    after = replace(task, **changed, tags=task.tags if tags is None else tags)
    after.updated_at = await task_repository.save_change(
        connection,
        task.id,
        changed,
        lists=_lists_changed(task, after, changed, tags_changed=tags_changed),
        events=events_for_change(TaskSnapshot.of(task), TaskSnapshot.of(after)),
    )
    return after


def _lists_changed(
    before: TaskRecord, after: TaskRecord, changed: dict[str, object], *, tags_changed: bool
) -> ListChange | None:
    """What a change of one task does to its users' lists (see `read_models.task_list`)."""
    users = [before.owner_id, before.assignee_id, after.assignee_id]
    if tags_changed or changed.keys() - {"status"}:
        return ListChange.of(users, task_id=before.id)
    if changed:
        # The status alone: pages that neither filter on these statuses nor show the task
        # stay as they are.
        return ListChange.of_statuses([(users, before.id, (before.status, after.status))])
    return None  # the same values again: nothing any list shows has changed


async def delete_task(session: AsyncSession, *, principal: Principal, task_id: uuid.UUID) -> None:
    """Delete a task (owner/admin; the assignee gets 403, anyone else 404)."""
    connection = await task_repository.transaction_connection(session)
    task = await task_repository.task_record(connection, task_id, principal=principal, lock=True)
    if task is None:
        raise TaskNotFound
    if not _manages(principal, task):
        raise TaskDeleteForbidden
    await task_repository.delete_task(session, task.id)
    outbox_repository.add_events(session, events_for_change(TaskSnapshot.of(task), None))
    await session.flush()
    await task_repository.bump_list_versions(
        session, ListChange.of([task.owner_id, task.assignee_id], task_id=task.id)
    )


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
    lists = ListChange.of_statuses(
        [((task.owner_id, task.assignee_id), task.id, (task.status, status)) for task in changing]
    )
    for task in changing:
        before = TaskSnapshot.of(task)
        task.status = status
        outbox_repository.add_events(
            session, events_for_change(before, replace(before, status=status))
        )
    await session.flush()
    # A change of status alone: only pages filtering on these statuses, or showing tasks
    # of these tasks' slots, go out of date.
    await task_repository.bump_list_versions(session, lists)
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

    A kept page whose freshness is still the current one is served as is (see
    `read_models.page_cache`); otherwise PostgreSQL renders it, with its freshness.
    """
    async with reads.connection() as connection:
        if principal.is_admin or not cache.enabled:
            cache.bypassed()
            whole = await task_list.render_page(connection, principal=principal, query=query)
            return (whole if isinstance(whole, str) else whole.document).encode()
        key = (principal.user_id, query_key(query))
        kept = cache.find(key)
        rendered = await _render_unless_kept_is_exact(
            connection, principal=principal, query=query, kept=kept
        )
    if rendered is None:
        assert kept is not None
        cache.served(kept=True)
        return kept.document
    cache.served(kept=False)
    # A page kept before was out of date: the new one is checked inside its render a while.
    checks_in_render = 0 if kept is None else CHECKS_IN_RENDER_AFTER_CHANGE
    page = KeptPage(rendered.document.encode(), rendered.freshness, checks_in_render)
    cache.put(key, page)
    return page.document


async def _render_unless_kept_is_exact(
    connection: ReadConnection,
    *,
    principal: Principal,
    query: TaskListQuery,
    kept: KeptPage | None,
) -> task_list.RenderedPage | None:
    """The page rendered, or None when `kept` is still exact.

    A page recently found out of date is checked inside its render: one round trip, but
    the page's larger plan is set up even when it is exact. Any other page gets the short
    freshness check, and is rendered after it only when out of date. (Checking every page
    inside its render cost a page read again and again 5-15 % of its throughput; see the
    task-svc README for the measurements.)
    """
    if kept is not None and kept.checks_in_render > 0:
        rendered = await task_list.render_page_unless_fresh(
            connection, principal=principal, query=query, kept=kept.freshness
        )
        if rendered is None:
            kept.checks_in_render -= 1
        return rendered
    if kept is not None and await task_list.is_fresh(
        connection, user_id=principal.user_id, query=query, kept=kept.freshness
    ):
        return None
    page = await task_list.render_page(connection, principal=principal, query=query)
    assert isinstance(page, task_list.RenderedPage)  # only admins' pages come without
    return page

"""All SQL about tasks and tags."""

from __future__ import annotations

import json
import typing
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import Insert, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ScalarSelect

from task_svc.db.compiled import CompiledStatement
from task_svc.db.read_pool import ReadConnection
from task_svc.models import (
    LIST_VERSION_SLOTS,
    STATUS_VERSION_SLOTS,
    OutboxEvent,
    Tag,
    Task,
    TaskListVersion,
    TaskPriority,
    TaskStatus,
    TaskStatusVersion,
    task_tags,
)
from taskhub_common.auth import Principal

# Same text as schemas.tasks.TIMESTAMP_FORMAT, in PostgreSQL's to_char notation.
_PG_TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
_EMPTY_JSON_ARRAY: ColumnElement[Any] = literal_column("'[]'::json")


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Tasks the caller may see: owned or assigned; an admin sees all."""
    if principal.is_admin:
        return true()
    return or_(Task.owner_id == principal.user_id, Task.assignee_id == principal.user_id)


@dataclass(slots=True)
class TaskRecord:
    """One task with its tag names, as the single-task paths read, change and return it."""

    id: uuid.UUID
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_at: datetime | None
    assignee_id: uuid.UUID | None
    owner_id: uuid.UUID
    webhook_url: str | None
    created_at: datetime
    updated_at: datetime
    tags: list[str]


# The tables themselves: the one-statement write runs below the ORM's unit of work.
_TASKS = typing.cast(Table, Task.__table__)
_OUTBOX = typing.cast(Table, OutboxEvent.__table__)
_RECORD_COLUMNS = (
    Task.id,
    Task.title,
    Task.description,
    Task.status,
    Task.priority,
    Task.due_at,
    Task.assignee_id,
    Task.owner_id,
    Task.webhook_url,
    Task.created_at,
    Task.updated_at,
)


def _tag_names_of_task() -> ScalarSelect[list[str] | None]:
    # Correlated with the task row: the task and its tags in one statement and round trip.
    return (
        select(func.array_agg(aggregate_order_by(Tag.name, Tag.name)))
        .join(task_tags, task_tags.c.tag_id == Tag.id)
        .where(task_tags.c.task_id == Task.id)
        .scalar_subquery()
    )


async def transaction_connection(session: AsyncSession) -> ReadConnection:
    """The asyncpg connection under `session`, inside its transaction (which the request
    dependency still commits): the single-task statements below run on it directly, as
    statements compiled once, without SQLAlchemy's per-statement and unit-of-work work."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return typing.cast(ReadConnection, raw.driver_connection)


async def task_record(
    connection: ReadConnection,
    task_id: uuid.UUID,
    *,
    principal: Principal,
    lock: bool = False,
) -> TaskRecord | None:
    """The task with its tags if the caller may see it; `lock` holds it until commit."""
    compiled = _compiled_record(admin=principal.is_admin, lock=lock)
    parameters = {"task_id": task_id, "user_id": principal.user_id}
    row = await connection.fetchrow(compiled.sql, *compiled.arguments(parameters))
    if row is None:
        return None
    return TaskRecord(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        status=TaskStatus(row["status"]),
        priority=TaskPriority(row["priority"]),
        due_at=row["due_at"],
        assignee_id=row["assignee_id"],
        owner_id=row["owner_id"],
        webhook_url=row["webhook_url"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        tags=list(row["tags"] or []),
    )


@lru_cache(maxsize=4)
def _compiled_record(*, admin: bool, lock: bool) -> CompiledStatement:
    conditions = [Task.id == bindparam("task_id", type_=Task.id.type)]
    if not admin:
        user_id = bindparam("user_id", type_=Task.owner_id.type)
        conditions.append(or_(Task.owner_id == user_id, Task.assignee_id == user_id))
    statement = select(*_RECORD_COLUMNS, _tag_names_of_task().label("tags")).where(*conditions)
    if lock:
        # Serialises concurrent changes of one task: two "-> done" requests emit one event.
        statement = statement.with_for_update(of=Task)
    return CompiledStatement.of(statement)


async def replace_tags(session: AsyncSession, task_id: uuid.UUID, tags: Sequence[Tag]) -> None:
    """Link the task to exactly `tags`."""
    await session.execute(delete(task_tags).where(task_tags.c.task_id == task_id))
    if tags:
        await session.execute(
            insert(task_tags).values([{"task_id": task_id, "tag_id": tag.id} for tag in tags])
        )


async def save_change(
    connection: ReadConnection,
    task_id: uuid.UUID,
    fields: dict[str, Any],
    *,
    lists: ListChange | None,
    events: Sequence[OutboxEvent],
) -> datetime:
    """Write a change of one locked task, bump the lists it changes and queue its events,
    in one statement (one round trip); returns the task's new `updated_at`.

    The version rows are the last rows a writer locks (see `bump_list_versions`), and this
    statement comes last in its transaction, so they are held only until the commit.
    """
    counters = lists.rows() if lists is not None else []
    compiled = _compiled_save(
        tuple(fields), len(counters), lists is not None and lists.by_status, len(events)
    )
    parameters: dict[str, Any] = {
        "task_id": task_id,
        **{f"set_{name}": value for name, value in fields.items()},
    }
    for n, counter in enumerate(counters):
        parameters |= {f"counter_{n}_{name}": value for name, value in counter.items()}
    for n, event in enumerate(events):
        parameters[f"event_{n}_id"] = event.id
        parameters[f"event_{n}_type"] = event.event_type
        parameters[f"event_{n}_payload"] = json.dumps(event.payload)
    updated_at: datetime = await connection.fetchval(compiled.sql, *compiled.arguments(parameters))
    return updated_at


@lru_cache(maxsize=256)
def _compiled_save(
    fields: tuple[str, ...], counters: int, by_status: bool, events: int
) -> CompiledStatement:
    """The statement of `save_change` for one shape of change: which fields, how many
    counters to bump (of whole lists, or of statuses), how many events."""
    task_id = bindparam("task_id", type_=Task.id.type)
    values: dict[str, Any] = {
        name: bindparam(f"set_{name}", type_=_TASKS.c[name].type) for name in fields
    }
    # A change to no field (all sent values were the current ones) keeps `updated_at`.
    values["updated_at"] = func.now() if fields else _TASKS.c.updated_at
    changed = (
        update(_TASKS)
        .where(_TASKS.c.id == task_id)
        .values(values)
        .returning(_TASKS.c.updated_at)
        .cte("changed")
    )
    statement = select(changed.c.updated_at)
    if counters:
        table = TaskStatusVersion if by_status else TaskListVersion
        columns = ("user_id", "status", "slot") if by_status else ("user_id", "slot")
        rows = [
            {
                **{
                    name: bindparam(f"counter_{n}_{name}", type_=getattr(table, name).type)
                    for name in columns
                },
                "version": 1,
            }
            for n in range(counters)
        ]
        statement = statement.add_cte(_bump(table, rows).cte("bumped"))
    if events:
        rows = [
            {
                "id": bindparam(f"event_{n}_id", type_=_OUTBOX.c.id.type),
                "event_type": bindparam(f"event_{n}_type", type_=_OUTBOX.c.event_type.type),
                "task_id": task_id,
                "payload": bindparam(f"event_{n}_payload", type_=_OUTBOX.c.payload.type),
                "attempts": 0,
            }
            for n in range(events)
        ]
        statement = statement.add_cte(insert(_OUTBOX).values(rows).cte("queued"))
    return CompiledStatement.of(statement)


async def lock_tasks(
    session: AsyncSession, task_ids: Sequence[uuid.UUID], *, principal: Principal
) -> list[Task]:
    """The visible tasks among `task_ids`, locked in id order (no deadlock between bulks)."""
    statement = (
        select(Task)
        .where(Task.id.in_(task_ids), visible_to(principal))
        .order_by(Task.id)
        .with_for_update()
    )
    return list((await session.execute(statement)).scalars())


async def tags_named(session: AsyncSession, names: Sequence[str]) -> list[Tag]:
    """The tags with these names, creating the missing ones."""
    if not names:
        return []
    await session.execute(
        insert(Tag).values([{"name": name} for name in names]).on_conflict_do_nothing()
    )
    rows = await session.execute(select(Tag).where(Tag.name.in_(names)).order_by(Tag.name))
    return list(rows.scalars())


async def add_task(session: AsyncSession, task: Task) -> Task:
    session.add(task)
    await session.flush()
    await session.refresh(task, ["created_at", "updated_at"])
    return task


async def delete_task(session: AsyncSession, task_id: uuid.UUID) -> None:
    await session.execute(delete(Task).where(Task.id == task_id))


def list_version_slot(task_id: uuid.UUID) -> int:
    """The version slot a change of this task bumps: concurrent changes of different tasks
    of one user mostly bump different rows (changes of one task wait for each other anyway)."""
    return task_id.int % LIST_VERSION_SLOTS


def status_version_slot(task_id: uuid.UUID) -> int:
    """The status-counter slot of a task: the last byte of its id."""
    return task_id.int % STATUS_VERSION_SLOTS


# One task's change of status alone: the users whose lists show it, the task, and the
# statuses it left and entered.
StatusChange = tuple[Iterable[uuid.UUID | None], uuid.UUID, Iterable[TaskStatus]]


@dataclass(frozen=True, slots=True)
class ListChange:
    """Which counters a write bumps (see `read_models.task_list`): the list versions of
    its users, or, for a change of status alone, their counters of the statuses involved,
    each in the slot of its task. Keys come sorted, one order for every writer, so two
    writers never wait for each other's counters in a circle."""

    keys: tuple[tuple[Any, ...], ...]
    by_status: bool

    @classmethod
    def of(cls, users: Iterable[uuid.UUID | None], *, task_id: uuid.UUID) -> ListChange | None:
        """Anything about the task's lists may have changed; None when nobody's list."""
        slot = list_version_slot(task_id)
        keys = sorted({(user_id, slot) for user_id in users if user_id is not None})
        return cls(tuple(keys), by_status=False) if keys else None

    @classmethod
    def of_statuses(cls, changes: Iterable[StatusChange]) -> ListChange | None:
        """Tasks changed status and nothing else; None when nobody's list."""
        keys = {
            (user_id, TaskStatus(status).value, status_version_slot(task_id))
            for users, task_id, statuses in changes
            for user_id in users
            if user_id is not None
            for status in statuses
        }
        return cls(tuple(sorted(keys)), by_status=True) if keys else None

    @property
    def columns(self) -> tuple[str, ...]:
        return ("user_id", "status", "slot") if self.by_status else ("user_id", "slot")

    def rows(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, key, strict=True)) for key in self.keys]


async def bump_list_versions(session: AsyncSession, change: ListChange | None) -> None:
    """Mark the task lists `change` names as changed, in the caller's transaction.

    Call it once per transaction, as its last write: the counter rows are then always
    locked after task and tag rows, in one order, so two writers never wait for each
    other in a circle, and each is held only until the commit.
    """
    if change is None:
        return
    table = TaskStatusVersion if change.by_status else TaskListVersion
    await session.execute(_bump(table, [row | {"version": 1} for row in change.rows()]))


def _bump(
    table: type[TaskListVersion] | type[TaskStatusVersion], rows: list[dict[str, Any]]
) -> Insert:
    """Add one to each of these counters, creating the missing ones at 1."""
    keys = list(table.__table__.primary_key)
    return (
        insert(table)
        .values(rows)
        .on_conflict_do_update(index_elements=keys, set_={"version": table.version + 1})
    )

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

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    BigInteger,
    ClauseElement,
    ColumnElement,
    Integer,
    Select,
    SmallInteger,
    String,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert, aggregate_order_by, insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import ScalarSelect

from task_svc.db.read_pool import ReadConnection
from task_svc.models import (
    LIST_VERSION_SLOTS,
    OutboxEvent,
    Tag,
    Task,
    TaskListVersion,
    TaskPriority,
    TaskStatus,
    task_tags,
)
from task_svc.schemas.tasks import TaskListQuery
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
def _compiled_record(*, admin: bool, lock: bool) -> _Compiled:
    conditions = [Task.id == bindparam("task_id", type_=Task.id.type)]
    if not admin:
        user_id = bindparam("user_id", type_=Task.owner_id.type)
        conditions.append(or_(Task.owner_id == user_id, Task.assignee_id == user_id))
    statement = select(*_RECORD_COLUMNS, _tag_names_of_task().label("tags")).where(*conditions)
    if lock:
        # Serialises concurrent changes of one task: two "-> done" requests emit one event.
        statement = statement.with_for_update(of=Task)
    return _Compiled.of(statement)


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
    list_users: Iterable[uuid.UUID | None],
    events: Sequence[OutboxEvent],
) -> datetime:
    """Write a change of one locked task, bump the lists it changes and queue its events,
    in one statement (one round trip); returns the task's new `updated_at`.

    The version rows are the last rows a writer locks (see `bump_list_versions`), and this
    statement comes last in its transaction, so they are held only until the commit.
    """
    users = sorted({user_id for user_id in list_users if user_id is not None})
    compiled = _compiled_save(tuple(fields), len(users), len(events))
    parameters: dict[str, Any] = {
        "task_id": task_id,
        "slot": list_version_slot(task_id),
        **{f"set_{name}": value for name, value in fields.items()},
        **{f"user_{n}": user_id for n, user_id in enumerate(users)},
    }
    for n, event in enumerate(events):
        parameters[f"event_{n}_id"] = event.id
        parameters[f"event_{n}_type"] = event.event_type
        parameters[f"event_{n}_payload"] = json.dumps(event.payload)
    updated_at: datetime = await connection.fetchval(compiled.sql, *compiled.arguments(parameters))
    return updated_at


@lru_cache(maxsize=256)
def _compiled_save(fields: tuple[str, ...], users: int, events: int) -> _Compiled:
    """The statement of `save_change` for one shape of change: which fields, how many
    lists to bump, how many events."""
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
    if users:
        slot = bindparam("slot", type_=SmallInteger)
        rows = [
            {
                "user_id": bindparam(f"user_{n}", type_=Task.owner_id.type),
                "slot": slot,
                "version": 1,
            }
            for n in range(users)
        ]
        statement = statement.add_cte(_bump(insert(TaskListVersion).values(rows)).cte("bumped"))
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
    return _Compiled.of(statement)


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


async def bump_list_versions(
    session: AsyncSession, user_ids: Iterable[uuid.UUID | None], *, slot: int
) -> None:
    """Mark the task lists of `user_ids` as changed, in the caller's transaction.

    Call it once per transaction, as its last write: the version rows are then always
    locked after task and tag rows, in user id order, so two writers never wait for each
    other in a circle, and each is held only until the commit.
    """
    statement = _bump_statement(user_ids, slot=slot)
    if statement is not None:
        await session.execute(statement)


def _bump_statement(user_ids: Iterable[uuid.UUID | None], *, slot: int) -> Insert | None:
    ids = sorted({user_id for user_id in user_ids if user_id is not None})
    if not ids:
        return None
    return _bump(
        insert(TaskListVersion).values(
            [{"user_id": id_, "slot": slot, "version": 1} for id_ in ids]
        )
    )


def _bump(rows: Insert) -> Insert:
    """Add one to each of these (user, slot) counters, creating the missing ones at 1."""
    return rows.on_conflict_do_update(
        index_elements=[TaskListVersion.user_id, TaskListVersion.slot],
        set_={"version": TaskListVersion.version + 1},
    )


@dataclass(frozen=True, slots=True)
class _ListShape:
    """Which filters a list request uses: one cached statement per shape."""

    admin: bool
    status: bool
    assignee: bool
    due_before: bool
    due_after: bool
    tags: bool

    @classmethod
    def of(cls, principal: Principal, query: TaskListQuery) -> _ListShape:
        return cls(
            admin=principal.is_admin,
            status=bool(query.status),
            assignee=query.assignee_id is not None,
            due_before=query.due_before is not None,
            due_after=query.due_after is not None,
            tags=bool(query.tag),
        )


def _list_parameters(principal: Principal, query: TaskListQuery) -> dict[str, Any]:
    return {
        "user_id": principal.user_id,
        "statuses": [status.value for status in query.status],
        "assignee_id": query.assignee_id,
        "due_before": query.due_before,
        "due_after": query.due_after,
        "tags": list(query.tag),
        "tag_count": len(query.tag),
        "limit": query.limit,
        "offset": query.offset,
        "page": query.page,
    }


def _conditions(shape: _ListShape) -> list[ColumnElement[bool]]:
    # Lists travel as one array parameter (= ANY), so a shape has one statement text
    # whatever the number of statuses or tags asked for.
    conditions: list[ColumnElement[bool]] = []
    if not shape.admin:
        user_id = bindparam("user_id", type_=Task.owner_id.type)
        conditions.append(or_(Task.owner_id == user_id, Task.assignee_id == user_id))
    if shape.status:
        conditions.append(Task.status == any_(bindparam("statuses", type_=ARRAY(Task.status.type))))
    if shape.assignee:
        conditions.append(Task.assignee_id == bindparam("assignee_id", type_=Task.assignee_id.type))
    if shape.due_before:
        conditions.append(Task.due_at < bindparam("due_before", type_=Task.due_at.type))
    if shape.due_after:
        conditions.append(Task.due_at > bindparam("due_after", type_=Task.due_at.type))
    if shape.tags:
        conditions.append(Task.id.in_(_tasks_with_all_tags()))
    return conditions


def _tasks_with_all_tags() -> Select[tuple[uuid.UUID]]:
    # The tags are unique, so "has all" is "matches as many of them as were asked for".
    return (
        select(task_tags.c.task_id)
        .join(Tag, Tag.id == task_tags.c.tag_id)
        .where(Tag.name == any_(bindparam("tags", type_=ARRAY(Tag.name.type))))
        .group_by(task_tags.c.task_id)
        .having(func.count() == bindparam("tag_count", type_=Integer))
    )


def _timestamp(column: ColumnElement[object]) -> ColumnElement[str]:
    return func.to_char(func.timezone("UTC", column), _PG_TIMESTAMP_FORMAT)


def _list_statement(shape: _ListShape) -> Select[str] | Select[str, int]:
    """The page as `{items, total, page, limit}` JSON text and, for a caller who is not an
    admin, the version of their list that this snapshot shows."""
    where = and_(true(), *_conditions(shape))
    page = (
        select(Task)
        .where(where)
        .order_by(Task.created_at.desc(), Task.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .cte("page")
    )
    # The tags of the whole page in one join, not one lookup per task.
    page_tags = (
        select(
            task_tags.c.task_id,
            func.json_agg(aggregate_order_by(Tag.name, Tag.name)).label("names"),
        )
        .join(Tag, Tag.id == task_tags.c.tag_id)
        .where(task_tags.c.task_id.in_(select(page.c.id)))
        .group_by(task_tags.c.task_id)
        .subquery("page_tags")
    )
    tag_names = func.coalesce(page_tags.c.names, _EMPTY_JSON_ARRAY)
    item = func.json_build_object(
        "id", page.c.id,
        "title", page.c.title,
        "description", page.c.description,
        "status", page.c.status,
        "priority", page.c.priority,
        "due_at", _timestamp(page.c.due_at),
        "tags", tag_names,
        "assignee_id", page.c.assignee_id,
        "owner_id", page.c.owner_id,
        "webhook_url", page.c.webhook_url,
        "created_at", _timestamp(page.c.created_at),
        "updated_at", _timestamp(page.c.updated_at),
    )  # fmt: skip
    items = (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(item, page.c.created_at.desc(), page.c.id.desc())),
                _EMPTY_JSON_ARRAY,
            )
        )
        .select_from(page.outerjoin(page_tags, page_tags.c.task_id == page.c.id))
        .scalar_subquery()
    )
    total = select(func.count()).select_from(Task).where(where).scalar_subquery()
    document = func.json_build_object(
        "items", items,
        "total", total,
        "page", bindparam("page", type_=Integer),
        "limit", bindparam("limit", type_=Integer),
    )  # fmt: skip
    if shape.admin:
        return select(cast(document, String))
    return select(cast(document, String), _version_of_user_list())


def _version_of_user_list() -> ColumnElement[int]:
    # The sum of the user's slots (0 before their first change); see TaskListVersion.
    total = (
        select(func.sum(TaskListVersion.version))
        .where(TaskListVersion.user_id == bindparam("user_id", type_=Task.owner_id.type))
        .scalar_subquery()
    )
    return cast(func.coalesce(total, 0), BigInteger)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement as asyncpg runs it: `$n` text, the bind name of each `$n`, and the
    statement's own values of its binds (the literals, such as the JSON keys)."""

    sql: str
    names: tuple[str, ...]
    literals: dict[str, Any]

    @classmethod
    def of(cls, statement: ClauseElement) -> _Compiled:
        compiled = statement.compile(dialect=_ASYNCPG)
        assert isinstance(compiled, SQLCompiler)
        names = tuple(compiled.positiontup or ())
        literals = {name: compiled.binds[name].effective_value for name in names}
        return cls(str(compiled), names, literals)

    def arguments(self, parameters: dict[str, Any]) -> list[Any]:
        """The `$n` values: the caller's `parameters` by name, the literals for the rest."""
        return [
            parameters[name] if name in parameters else self.literals[name] for name in self.names
        ]


_tracer = trace.get_tracer("taskhub.task_svc.repositories")
_PAGE_SPAN_ATTRIBUTES = {"db.system.name": "postgresql", "db.operation.name": "SELECT"}
_ASYNCPG = asyncpg_dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


@lru_cache(maxsize=64)
def _compiled_list(shape: _ListShape) -> _Compiled:
    # Built and compiled once per shape: doing it per request would cost more Python time
    # than PostgreSQL needs to run the statement.
    return _Compiled.of(_list_statement(shape))


@lru_cache(maxsize=1)
def _compiled_version() -> _Compiled:
    return _Compiled.of(select(_version_of_user_list()))


async def list_version(connection: ReadConnection, user_id: uuid.UUID) -> int:
    """The current version of `user_id`'s task list (0 before its first change)."""
    compiled = _compiled_version()
    version = await connection.fetchval(compiled.sql, *compiled.arguments({"user_id": user_id}))
    return int(version)


async def list_page_json(
    connection: ReadConnection, *, principal: Principal, query: TaskListQuery
) -> tuple[str, int | None]:
    """One page of visible tasks as the JSON text of `{items, total, page, limit}`, and the
    version of the caller's list it shows (None for an admin, who sees every list).

    PostgreSQL builds the whole document in one statement (page, tags, total): no per-row
    Python work and no N+1, which is what dominates the cost of this endpoint.
    """
    compiled = _compiled_list(_ListShape.of(principal, query))
    # These reads bypass the SQLAlchemy instrumentation; the page gets a span of its own.
    # (The version lookup of every list request does not: a primary-key read on the
    # hottest path.)
    with _tracer.start_as_current_span(
        "SELECT tasks page", kind=SpanKind.CLIENT, attributes=_PAGE_SPAN_ATTRIBUTES
    ):
        row = await connection.fetchrow(
            compiled.sql, *compiled.arguments(_list_parameters(principal, query))
        )
    assert row is not None  # an aggregate always yields one row
    document = str(row[0])
    return document, (None if principal.is_admin else int(row[1]))

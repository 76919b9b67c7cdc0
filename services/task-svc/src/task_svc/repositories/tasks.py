"""All SQL about tasks and tags."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Integer,
    Select,
    String,
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
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, insert
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.compiler import SQLCompiler

from task_svc.db.read_pool import ReadConnection
from task_svc.models import Tag, Task, TaskListVersion, task_tags
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


async def get_task(
    session: AsyncSession, task_id: uuid.UUID, *, principal: Principal, lock: bool = False
) -> Task | None:
    """The task with its tags if the caller may see it; `lock` holds it until commit."""
    statement = (
        select(Task)
        .where(Task.id == task_id, visible_to(principal))
        .options(selectinload(Task.tags))
    )
    if lock:
        # Serialises concurrent changes of one task: two "-> done" requests emit one event.
        statement = statement.with_for_update(of=Task)
    return (await session.execute(statement)).scalar_one_or_none()


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


async def bump_list_versions(session: AsyncSession, user_ids: Iterable[uuid.UUID | None]) -> None:
    """Mark the task lists of `user_ids` as changed, in the caller's transaction.

    Call it once per transaction, right after locking the tasks it changes and before
    touching tags: the version rows are then always locked after task rows and before
    tag rows, in user id order, so two writers never wait for each other in a circle.
    """
    ids = sorted({user_id for user_id in user_ids if user_id is not None})
    if not ids:
        return
    statement = insert(TaskListVersion).values([{"user_id": id_, "version": 1} for id_ in ids])
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[TaskListVersion.user_id],
            set_={"version": TaskListVersion.version + 1},
        )
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
    return func.coalesce(
        select(TaskListVersion.version)
        .where(TaskListVersion.user_id == bindparam("user_id", type_=Task.owner_id.type))
        .scalar_subquery(),
        0,
    )


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

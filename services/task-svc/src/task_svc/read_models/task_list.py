"""The task list's read model: which tasks a page shows, the JSON PostgreSQL renders for
it, and the freshness token that says whether a kept page still shows current data.

Listing is the hottest read and the most expensive one, so it runs below the ORM: one
statement per filter shape, compiled once, renders the whole `TaskPage` document (page,
total) in PostgreSQL, with no per-row Python work. Each task's JSON is its `item` column,
which a trigger renders on every write of the task or its tags (`tasks_render_item`,
migration b7d31c5e9a24): a page only aggregates its rows' items. Rendering them on every
read (timestamps, a tag lookup per row) was most of a page's cost: a 50-task page took
0.78 ms of PostgreSQL's CPU that way and takes 0.33 ms now. Tests hold every page's items to
`TaskRead`, the JSON of `GET /tasks/{id}`, after every kind of write.

A page kept by `read_models.page_cache` is served again only while its `Freshness` is
unchanged. What can change a page, and what tells:
- any write that adds, removes or reshapes tasks of the user's list (create, delete,
  title, tags, due date, assignee ...) bumps the user's list version (`TaskListVersion`);
- a change of status alone bumps the user's counters of the old and the new status, in
  the task's slot (`TaskStatusVersion`, 256 slots: the last byte of the task's id): the
  sum over the statuses a page filters on
  tells the pages the task moves in or out of, and the sum over the slots of the tasks a
  page shows tells the pages that show it (or another task of its slot: a page goes out
  of date a little more often than it must, never less).
A status change moves no task in or out of a page that filters on neither status, and
reorders nothing (pages are ordered by creation), so such a page that shows no task of
that slot stays exact. Every counter only grows and is read with the page in one
snapshot, so a page is never older than the last committed write that concerns it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asyncpg import Record
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    SmallInteger,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.sql.selectable import Subquery

from task_svc.db.compiled import CompiledStatement
from task_svc.db.read_pool import ReadConnection
from task_svc.models import (
    STATUS_VERSION_SLOTS,
    Tag,
    Task,
    TaskListVersion,
    TaskStatusVersion,
    task_tags,
)
from task_svc.schemas.tasks import TaskListQuery
from taskhub_common.auth import Principal

_EMPTY_JSON_ARRAY: ColumnElement[Any] = literal_column("'[]'::json")


@dataclass(frozen=True, slots=True)
class Freshness:
    """What a page was rendered from; a kept page is exact while this is unchanged."""

    list_version: int
    # The user's status counters of the statuses the query filters on (0 without).
    status_version: int
    # The slots of the tasks the page shows, and the user's status counters in them.
    shown_slots: tuple[int, ...]
    shown_version: int


@dataclass(frozen=True, slots=True)
class RenderedPage:
    document: str
    freshness: Freshness


@dataclass(frozen=True, slots=True)
class ListShape:
    """Which filters a list request uses: one compiled statement per shape."""

    admin: bool
    status: bool
    assignee: bool
    due_before: bool
    due_after: bool
    tags: bool

    @classmethod
    def of(cls, principal: Principal, query: TaskListQuery) -> ListShape:
        return cls(
            admin=principal.is_admin,
            status=bool(query.status),
            assignee=query.assignee_id is not None,
            due_before=query.due_before is not None,
            due_after=query.due_after is not None,
            tags=bool(query.tag),
        )


def _parameters(principal: Principal, query: TaskListQuery) -> dict[str, Any]:
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


def _user_id() -> ColumnElement[uuid.UUID]:
    return bindparam("user_id", type_=Task.owner_id.type)


def _statuses() -> ColumnElement[Any]:
    return bindparam("statuses", type_=ARRAY(Task.status.type))


def _conditions(shape: ListShape) -> list[ColumnElement[bool]]:
    # Lists travel as one array parameter (= ANY), so a shape has one statement text
    # whatever the number of statuses or tags asked for.
    conditions: list[ColumnElement[bool]] = []
    if not shape.admin:
        conditions.append(or_(Task.owner_id == _user_id(), Task.assignee_id == _user_id()))
    if shape.status:
        conditions.append(Task.status == any_(_statuses()))
    if shape.assignee:
        conditions.append(Task.assignee_id == bindparam("assignee_id", type_=Task.assignee_id.type))
    if shape.due_before:
        conditions.append(Task.due_at < bindparam("due_before", type_=Task.due_at.type))
    if shape.due_after:
        conditions.append(Task.due_at > bindparam("due_after", type_=Task.due_at.type))
    if shape.tags:
        conditions.append(_has_all_tags())
    return conditions


def _has_all_tags() -> ColumnElement[bool]:
    # Checked per candidate task (a primary-key probe of task_tags each), so the cost
    # follows the caller's own tasks, not how many tasks of all users carry the tag.
    # The tags are unique, so "has all" is "has as many of them as were asked for".
    asked = (
        select(Tag.id)
        .where(Tag.name == any_(bindparam("tags", type_=ARRAY(Tag.name.type))))
        .scalar_subquery()
    )
    matched = (
        select(func.count())
        .select_from(task_tags)
        .where(task_tags.c.task_id == Task.id, task_tags.c.tag_id == any_(func.array(asked)))
        .scalar_subquery()
    )
    return matched == bindparam("tag_count", type_=Integer)


def _list_version() -> ColumnElement[int]:
    # The sum of the user's slots (0 before their first change); see TaskListVersion.
    total = (
        select(func.sum(TaskListVersion.version))
        .where(TaskListVersion.user_id == _user_id())
        .scalar_subquery()
    )
    return cast(func.coalesce(total, 0), BigInteger)


def _page_statement(shape: ListShape, *, unless_fresh: bool = False) -> Select[Any]:
    """The page as `TaskPage` JSON text and, for a caller who is not an admin, the
    freshness of what this snapshot shows. `unless_fresh`: no row at all while the
    freshness a kept page was rendered with (the `kept_*` parameters) is still current."""
    where = and_(true(), *_conditions(shape))
    rows = select(Task.id, Task.created_at, Task.item).where(where)
    count = select(func.count()).select_from(Task).where(where).scalar_subquery()
    if not shape.admin:
        # The total comes with the page rows (a count over the matching rows, taken before
        # the limit), not from a second scan; only a page past the end counts again.
        rows = rows.add_columns(func.count().over().label("total"))
    page = (
        rows.order_by(Task.created_at.desc(), Task.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .cte("page")
    )
    items = select(
        func.coalesce(
            func.json_agg(
                aggregate_order_by(page.c.item, page.c.created_at.desc(), page.c.id.desc())
            ),
            _EMPTY_JSON_ARRAY,
        )
    ).scalar_subquery()
    # (An admin sees every task: a count over them all would sort them all for one page.)
    total = (
        count
        if shape.admin
        else func.coalesce(select(func.max(page.c.total)).scalar_subquery(), count)
    )
    document = func.json_build_object(
        "items", items,
        "total", total,
        "page", bindparam("page", type_=Integer),
        "limit", bindparam("limit", type_=Integer),
    )  # fmt: skip
    if shape.admin:
        return select(cast(document, String))
    # The freshness of this page, read in its snapshot.
    slot = slot_of(page.c.id).label("slot")
    shown_slots = func.array(select(slot).distinct().order_by(slot).scalar_subquery())
    counters = _status_counters(slots=shown_slots)
    statement = select(
        cast(document, String),
        _list_version(),
        func.coalesce(counters.c.of_statuses, 0),
        shown_slots,
        func.coalesce(counters.c.of_slots, 0),
    ).select_from(counters)
    if unless_fresh:
        # Uncorrelated, so PostgreSQL checks it first (a "one-time filter") and, when the
        # kept page is still exact, runs nothing of the page.
        statement = statement.where(not_(_kept_is_current()))
    return statement


def _kept_is_current() -> ColumnElement[bool]:
    """Whether the freshness in the `kept_*` parameters (`_kept_parameters`) is the
    current one: the one definition both ways of checking a kept page use."""
    counters = _status_counters(slots=bindparam("kept_slots", type_=_SLOTS))
    current = and_(
        _list_version() == bindparam("kept_list_version", type_=BigInteger),
        func.coalesce(counters.c.of_statuses, 0)
        == bindparam("kept_status_version", type_=BigInteger),
        func.coalesce(counters.c.of_slots, 0) == bindparam("kept_shown_version", type_=BigInteger),
    )
    return select(current).select_from(counters).scalar_subquery()


_SLOTS = ARRAY(SmallInteger)
# `repositories.tasks.status_version_slot` (uuid.int % 256) is the id's last byte.
assert STATUS_VERSION_SLOTS == 256


def slot_of(task_id: ColumnElement[uuid.UUID]) -> ColumnElement[int]:
    """The status-counter slot of `task_id`, computed by PostgreSQL: its last byte."""
    return func.get_byte(func.uuid_send(task_id), 15)


def _status_counters(*, slots: ColumnElement[Any]) -> Subquery:
    """One pass over the user's status counters: the sum over the statuses the query
    filters on, and the sum over `slots` (every status)."""
    counters = TaskStatusVersion
    of_statuses = func.sum(counters.version).filter(counters.status == any_(_statuses()))
    of_slots = func.sum(counters.version).filter(counters.slot == any_(slots))
    return (
        select(of_statuses.label("of_statuses"), of_slots.label("of_slots"))
        .where(counters.user_id == _user_id())
        .subquery("counters")
    )


@lru_cache(maxsize=128)
def _compiled_page(shape: ListShape, *, unless_fresh: bool = False) -> CompiledStatement:
    return CompiledStatement.of(_page_statement(shape, unless_fresh=unless_fresh))


@lru_cache(maxsize=1)
def _compiled_freshness() -> CompiledStatement:
    # A statement of its own, not a branch of the page's: PostgreSQL sets up every node of
    # a statement's plan on each run, and the page's many nodes cost more than these reads.
    return CompiledStatement.of(select(_kept_is_current()))


def _kept_parameters(kept: Freshness) -> dict[str, Any]:
    return {
        "kept_list_version": kept.list_version,
        "kept_status_version": kept.status_version,
        "kept_slots": list(kept.shown_slots),
        "kept_shown_version": kept.shown_version,
    }


_tracer = trace.get_tracer("taskhub.task_svc.read_models")
_PAGE_SPAN_ATTRIBUTES = {"db.system.name": "postgresql", "db.operation.name": "SELECT"}


async def _page_row(
    connection: ReadConnection, compiled: CompiledStatement, parameters: dict[str, Any]
) -> Record | None:
    # These reads bypass the SQLAlchemy instrumentation; the page gets a span of its own.
    # (The freshness check of a kept page does not: two index ranges on the hottest path.)
    with _tracer.start_as_current_span(
        "SELECT tasks page", kind=SpanKind.CLIENT, attributes=_PAGE_SPAN_ATTRIBUTES
    ):
        return await connection.fetchrow(compiled.sql, *compiled.arguments(parameters))


def _rendered(row: Record) -> RenderedPage:
    return RenderedPage(
        str(row[0]),
        Freshness(
            list_version=int(row[1]),
            status_version=int(row[2]),
            shown_slots=tuple(row[3]),
            shown_version=int(row[4]),
        ),
    )


async def render_page(
    connection: ReadConnection, *, principal: Principal, query: TaskListQuery
) -> RenderedPage | str:
    """One page of the caller's visible tasks as `TaskPage` JSON text, with its freshness;
    for an admin, whose pages are not kept, the text alone."""
    shape = ListShape.of(principal, query)
    row = await _page_row(connection, _compiled_page(shape), _parameters(principal, query))
    assert row is not None  # an aggregate always yields one row
    return str(row[0]) if shape.admin else _rendered(row)


async def render_page_unless_fresh(
    connection: ReadConnection, *, principal: Principal, query: TaskListQuery, kept: Freshness
) -> RenderedPage | None:
    """The page as `render_page` renders it, or None while `kept`, the freshness of a kept
    page of this query, is still the current one: that page is still exact.

    One round trip either way, where `is_fresh` and then `render_page` take two for a kept
    page out of date; but a kept page still exact costs PostgreSQL more this way (the
    page's plan is set up, if not run). `services.tasks.list_tasks` chooses between them.
    """
    shape = ListShape.of(principal, query)
    assert not shape.admin  # admins' pages are never kept
    parameters = _parameters(principal, query) | _kept_parameters(kept)
    row = await _page_row(connection, _compiled_page(shape, unless_fresh=True), parameters)
    return None if row is None else _rendered(row)


async def is_fresh(
    connection: ReadConnection, *, user_id: uuid.UUID, query: TaskListQuery, kept: Freshness
) -> bool:
    """Whether a page of `query` rendered with freshness `kept` is still exact."""
    compiled = _compiled_freshness()
    parameters = {
        "user_id": user_id,
        "statuses": [status.value for status in query.status],
    } | _kept_parameters(kept)
    current = await connection.fetchval(compiled.sql, *compiled.arguments(parameters))
    return current is True

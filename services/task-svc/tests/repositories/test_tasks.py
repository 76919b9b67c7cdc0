"""task_svc.repositories.tasks against the real test PostgreSQL (each test rolled back),
the single-task and bulk paths; the list read path has tests of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, literal, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.db.session import database
from task_svc.models import (
    STATUS_VERSION_SLOTS,
    OutboxEvent,
    Tag,
    Task,
    TaskPriority,
    TaskStatus,
    task_tags,
)
from task_svc.read_models.task_list import slot_of
from task_svc.repositories import tasks as task_repository
from task_svc.repositories.tasks import ListChange
from taskhub_common.auth import Principal, Role

pytestmark = pytest.mark.integration


def _user() -> Principal:
    return Principal(user_id=uuid.uuid4(), role=Role.USER)


def _admin() -> Principal:
    return Principal(user_id=uuid.uuid4(), role=Role.ADMIN)


async def _add(
    session: AsyncSession, owner: Principal, *, assignee: Principal | None = None, title: str = "t"
) -> Task:
    task = Task(
        id=uuid.uuid4(),
        title=title,
        owner_id=owner.user_id,
        assignee_id=assignee.user_id if assignee else None,
    )
    task.tags = []
    return await task_repository.add_task(session, task)


async def test_add_task_stores_the_task_with_its_defaults_and_timestamps(
    session: AsyncSession,
) -> None:
    owner = _user()
    task = await _add(session, owner, title="Write the report")
    stored = await session.scalar(select(Task.title).where(Task.id == task.id))
    assert stored == "Write the report"
    assert task.status is TaskStatus.TODO
    assert task.priority is TaskPriority.NORMAL
    assert task.created_at is not None
    assert task.updated_at == task.created_at


async def test_add_task_with_an_existing_id_is_refused(session: AsyncSession) -> None:
    task = await _add(session, _user())
    twin = Task(id=task.id, title="again", owner_id=uuid.uuid4())
    session.expunge(task)
    with pytest.raises(DBAPIError, match="duplicate key"):
        async with session.begin_nested():
            await task_repository.add_task(session, twin)


async def test_tags_named_creates_the_missing_tags_and_returns_all_by_name(
    session: AsyncSession,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    first = await task_repository.tags_named(session, [f"b-{suffix}"])
    both = await task_repository.tags_named(session, [f"c-{suffix}", f"b-{suffix}"])
    assert [tag.name for tag in both] == [f"b-{suffix}", f"c-{suffix}"]
    assert both[0].id == first[0].id  # found, not created twice


async def test_tags_named_of_no_names_is_empty(session: AsyncSession) -> None:
    assert await task_repository.tags_named(session, []) == []


async def test_replace_tags_links_exactly_the_given_tags(session: AsyncSession) -> None:
    task = await _add(session, _user())
    suffix = uuid.uuid4().hex[:8]
    old = await task_repository.tags_named(session, [f"old-{suffix}", f"kept-{suffix}"])
    await task_repository.replace_tags(session, task.id, old)
    new = await task_repository.tags_named(session, [f"kept-{suffix}", f"new-{suffix}"])
    await task_repository.replace_tags(session, task.id, new)
    linked = await session.scalars(
        select(Tag.name)
        .join(task_tags, task_tags.c.tag_id == Tag.id)
        .where(task_tags.c.task_id == task.id)
        .order_by(Tag.name)
    )
    assert list(linked) == [f"kept-{suffix}", f"new-{suffix}"]
    await task_repository.replace_tags(session, task.id, [])
    assert (
        await session.scalar(
            select(func.count()).select_from(task_tags).where(task_tags.c.task_id == task.id)
        )
        == 0
    )


async def test_task_record_returns_the_task_with_sorted_tag_names(session: AsyncSession) -> None:
    owner = _user()
    task = await _add(session, owner, title="Tagged")
    suffix = uuid.uuid4().hex[:8]
    await task_repository.replace_tags(
        session, task.id, await task_repository.tags_named(session, [f"z-{suffix}", f"a-{suffix}"])
    )
    connection = await task_repository.transaction_connection(session)
    record = await task_repository.task_record(connection, task.id, principal=owner)
    assert record is not None
    assert (record.id, record.title, record.owner_id) == (task.id, "Tagged", owner.user_id)
    assert record.status is TaskStatus.TODO
    assert record.tags == [f"a-{suffix}", f"z-{suffix}"]


async def test_task_record_is_seen_by_owner_assignee_and_admin_only(
    session: AsyncSession,
) -> None:
    owner, assignee = _user(), _user()
    task = await _add(session, owner, assignee=assignee)
    untagged = await _add(session, owner)
    connection = await task_repository.transaction_connection(session)
    for reader in (owner, assignee, _admin()):
        record = await task_repository.task_record(connection, task.id, principal=reader)
        assert record is not None
        assert record.id == task.id
    assert await task_repository.task_record(connection, task.id, principal=_user()) is None
    assert await task_repository.task_record(connection, uuid.uuid4(), principal=owner) is None
    bare = await task_repository.task_record(connection, untagged.id, principal=owner)
    assert bare is not None
    assert bare.tags == []


async def test_transaction_connection_runs_inside_the_sessions_transaction(
    session: AsyncSession,
) -> None:
    task = await _add(session, _user())
    connection = await task_repository.transaction_connection(session)
    # The uncommitted row is visible: same connection, same transaction.
    assert await connection.fetchval("SELECT count(*) FROM tasks WHERE id = $1", task.id) == 1


async def test_save_change_writes_the_fields_and_queues_the_events(
    session: AsyncSession,
) -> None:
    owner = _user()
    task = await _add(session, owner)
    event = OutboxEvent(
        id=uuid.uuid4(), event_type="task.done", task_id=task.id, payload={"status": "done"}
    )
    connection = await task_repository.transaction_connection(session)
    updated_at = await task_repository.save_change(
        connection,
        task.id,
        {"status": TaskStatus.DONE.value, "title": "Done it"},
        lists=ListChange.of([owner.user_id, None], task_id=task.id),
        events=[event],
    )
    record = await task_repository.task_record(connection, task.id, principal=owner)
    assert record is not None
    assert (record.status, record.title, record.updated_at) == (
        TaskStatus.DONE,
        "Done it",
        updated_at,
    )
    queued = await session.scalar(select(OutboxEvent).where(OutboxEvent.id == event.id))
    assert queued is not None
    assert (queued.task_id, queued.event_type, queued.payload) == (
        task.id,
        "task.done",
        {"status": "done"},
    )


async def test_save_change_of_no_field_keeps_updated_at(session: AsyncSession) -> None:
    owner = _user()
    task = await _add(session, owner)
    await session.execute(
        update(Task).where(Task.id == task.id).values(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    )
    connection = await task_repository.transaction_connection(session)
    updated_at = await task_repository.save_change(connection, task.id, {}, lists=None, events=[])
    assert updated_at == datetime(2020, 1, 1, tzinfo=UTC)


async def _counters(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """The user's list version and status counters, summed over slots."""
    rows = await session.execute(
        text(
            "SELECT 'list', sum(version) FROM task_list_versions WHERE user_id = :u "
            "UNION ALL SELECT status::text, sum(version) FROM task_status_versions "
            "WHERE user_id = :u GROUP BY status"
        ),
        {"u": user_id},
    )
    return {name: int(total) for name, total in rows if total is not None}


async def test_save_change_of_the_status_alone_bumps_the_status_counters(
    session: AsyncSession,
) -> None:
    owner, assignee = _user(), _user()
    task = await _add(session, owner, assignee=assignee)
    connection = await task_repository.transaction_connection(session)
    status_only = ListChange.of_statuses(
        [((owner.user_id, assignee.user_id), task.id, (TaskStatus.TODO, TaskStatus.DONE))]
    )
    await task_repository.save_change(
        connection, task.id, {"status": TaskStatus.DONE}, lists=status_only, events=[]
    )
    for user in (owner, assignee):
        assert await _counters(session, user.user_id) == {"todo": 1, "done": 1}
    await task_repository.save_change(
        connection,
        task.id,
        {"title": "x"},
        lists=ListChange.of([owner.user_id], task_id=task.id),
        events=[],
    )
    assert await _counters(session, owner.user_id) == {"list": 1, "todo": 1, "done": 1}


async def test_bump_list_versions_adds_one_per_user_and_counter_and_ignores_nobody(
    session: AsyncSession,
) -> None:
    owner, assignee = _user(), _user()
    task_id = uuid.uuid4()
    assert ListChange.of([None], task_id=task_id) is None
    await task_repository.bump_list_versions(session, None)
    assert ListChange.of_statuses([([None], task_id, [TaskStatus.DONE])]) is None
    change = ListChange.of([assignee.user_id, owner.user_id, owner.user_id], task_id=task_id)
    assert change is not None
    slot = task_repository.list_version_slot(task_id)
    assert change.keys == tuple(sorted({(owner.user_id, slot), (assignee.user_id, slot)}))
    await task_repository.bump_list_versions(session, change)
    await task_repository.bump_list_versions(session, change)
    # A bulk change: each task's counters in its own slot, every key once, in one order.
    other_task = uuid.uuid4()
    statuses = ListChange.of_statuses(
        [
            ([owner.user_id], task_id, [TaskStatus.DONE, TaskStatus.TODO]),
            ([owner.user_id, None], other_task, [TaskStatus.TODO, TaskStatus.DONE]),
        ]
    )
    assert statuses is not None
    assert list(statuses.keys) == sorted(statuses.keys)
    await task_repository.bump_list_versions(session, statuses)
    same_slot = task_repository.status_version_slot(task_id) == task_repository.status_version_slot(
        other_task
    )
    each = 1 if same_slot else 2
    assert await _counters(session, owner.user_id) == {"list": 2, "todo": each, "done": each}
    assert await _counters(session, assignee.user_id) == {"list": 2}


async def test_visible_to_is_owned_or_assigned_tasks_and_everything_for_an_admin(
    session: AsyncSession,
) -> None:
    owner, assignee, stranger = _user(), _user(), _user()
    task = await _add(session, owner, assignee=assignee)
    for reader, sees in ((owner, True), (assignee, True), (stranger, False), (_admin(), True)):
        visible = await session.scalars(
            select(Task.id).where(Task.id == task.id, task_repository.visible_to(reader))
        )
        assert (list(visible) == [task.id]) is sees


async def test_lock_tasks_returns_the_visible_tasks_in_id_order(session: AsyncSession) -> None:
    owner, stranger = _user(), _user()
    mine = [await _add(session, owner) for _ in range(3)]
    theirs = await _add(session, stranger)
    asked = [task.id for task in reversed(mine)] + [theirs.id, uuid.uuid4()]
    locked = await task_repository.lock_tasks(session, asked, principal=owner)
    assert [task.id for task in locked] == sorted(task.id for task in mine)
    as_admin = await task_repository.lock_tasks(session, asked, principal=_admin())
    assert {task.id for task in as_admin} == {task.id for task in [*mine, theirs]}
    assert await task_repository.lock_tasks(session, [], principal=owner) == []


async def test_delete_task_removes_the_task_and_its_tag_links(session: AsyncSession) -> None:
    task, other = await _add(session, _user()), await _add(session, _user())
    tags = await task_repository.tags_named(session, [f"gone-{uuid.uuid4().hex[:8]}"])
    await task_repository.replace_tags(session, task.id, tags)
    await task_repository.delete_task(session, task.id)
    await task_repository.delete_task(session, uuid.uuid4())  # nothing there: no error
    remaining = await session.scalars(select(Task.id).where(Task.id.in_([task.id, other.id])))
    assert list(remaining) == [other.id]
    links = await session.scalar(
        select(func.count()).select_from(task_tags).where(task_tags.c.task_id == task.id)
    )
    assert links == 0


# --- locks, seen from another connection (so the task is committed, then removed) ----------


# Tests ask for it before `session`: its removal then comes after the session's rollback
# released the lock (the other way round, the DELETE would wait for that lock forever).
@pytest.fixture
async def committed_task(migrated: None) -> AsyncIterator[tuple[Principal, uuid.UUID]]:
    owner = _user()
    task = Task(id=uuid.uuid4(), title="committed", owner_id=owner.user_id)
    async with database.transaction() as db_session:
        db_session.add(task)
    yield owner, task.id
    async with database.transaction() as db_session:
        await db_session.execute(delete(Task).where(Task.id == task.id))


async def _is_locked(task_id: uuid.UUID) -> bool:
    """Whether another transaction holds the task's row (NOWAIT: asked, never waited for)."""
    nowait = select(Task.id).where(Task.id == task_id).with_for_update(nowait=True)
    async with database.engine.connect() as other:
        try:
            await other.execute(nowait)
        except DBAPIError as exc:
            if "could not obtain lock" not in str(exc):
                raise
            return True
        finally:
            await other.rollback()
    return False


async def test_task_record_with_lock_holds_the_row_without_it_does_not(
    committed_task: tuple[Principal, uuid.UUID], session: AsyncSession
) -> None:
    owner, task_id = committed_task
    connection = await task_repository.transaction_connection(session)
    assert await task_repository.task_record(connection, task_id, principal=owner) is not None
    assert not await _is_locked(task_id)
    assert await task_repository.task_record(connection, task_id, principal=owner, lock=True)
    assert await _is_locked(task_id)


async def test_lock_tasks_holds_the_rows(
    committed_task: tuple[Principal, uuid.UUID], session: AsyncSession
) -> None:
    owner, task_id = committed_task
    assert not await _is_locked(task_id)
    await task_repository.lock_tasks(session, [task_id], principal=owner)
    assert await _is_locked(task_id)


async def test_the_slot_of_a_task_is_the_same_in_python_and_in_the_list_statement(
    session: AsyncSession,
) -> None:
    for _ in range(64):
        task_id = uuid.uuid4()
        in_sql = await session.scalar(select(slot_of(literal(task_id, Task.id.type))))
        assert in_sql == task_repository.status_version_slot(task_id) < STATUS_VERSION_SLOTS

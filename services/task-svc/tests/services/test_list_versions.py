"""Per-user list versions: every write adds exactly one to each counter it concerns (the
whole list's, or for a change of status alone the two statuses'), and writes of different
tasks of one user do not wait for each other."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.core.config import get_settings
from task_svc.models import LIST_VERSION_SLOTS, TaskStatus
from task_svc.read_models import task_list
from task_svc.repositories import tasks as task_repository
from task_svc.repositories.tasks import ListChange
from task_svc.schemas.tasks import TaskListQuery
from taskhub_common.auth import Principal, Role

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


async def _versions(
    session: AsyncSession, user_id: uuid.UUID, *statuses: TaskStatus
) -> tuple[int, int]:
    """The user's list version, and the sum of their counters of `statuses`."""
    connection = await task_repository.transaction_connection(session)
    return await _counters(connection, user_id, *statuses)


async def _counters(connection: Any, user_id: uuid.UUID, *statuses: TaskStatus) -> tuple[int, int]:
    # Through the list statement itself: the versions it reads are the ones it keys pages by.
    rendered = await task_list.render_page(
        connection,
        principal=Principal(user_id=user_id, role=Role.USER),
        query=TaskListQuery(status=list(statuses)),
    )
    assert isinstance(rendered, task_list.RenderedPage)
    return rendered.freshness.list_version, rendered.freshness.status_version


async def test_each_write_adds_one_to_every_list_it_changes(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    owner, assignee, newcomer = make_user(), make_user(), make_user()
    task = await create_task(owner, assignee_id=str(assignee.id))
    other = await create_task(owner)
    url = f"/tasks/{task['id']}"
    for body in ({"status": "in_progress"}, {"tags": ["x"]}, {"assignee_id": str(newcomer.id)}):
        assert (await client.patch(url, json=body, headers=owner.headers)).status_code == 200
    await client.delete(f"/tasks/{other['id']}", headers=owner.headers)

    # owner: 2 creations, 2 changes, 1 deletion, and the status change on its statuses'
    # counters; the first assignee: the creation and the changes until they lost the task;
    # the newcomer: the change that gave it to them.
    todo, doing, done = TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.DONE
    assert await _versions(session, owner.id, todo) == (5, 1)
    assert await _versions(session, owner.id, doing, done) == (5, 1)
    assert await _versions(session, owner.id, done) == (5, 0)
    assert await _versions(session, assignee.id, todo, doing) == (3, 2)
    assert await _versions(session, newcomer.id, todo, doing) == (1, 0)


@pytest.fixture
async def committed_tasks() -> AsyncIterator[tuple[asyncpg.Connection, uuid.UUID, list[uuid.UUID]]]:
    """Two committed tasks of one new user, in different version slots; removed afterwards."""
    dsn = make_url(get_settings().database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    owner = uuid.uuid4()
    ids: list[uuid.UUID] = []
    while len({task_repository.list_version_slot(task_id) for task_id in ids}) < 2:
        ids = [uuid.uuid4(), uuid.uuid4()]
    await connection.executemany(
        "INSERT INTO tasks (id, title, status, priority, owner_id) "
        "VALUES ($1, 'concurrent', 'todo', 'normal', $2)",
        [(task_id, owner) for task_id in ids],
    )
    try:
        yield connection, owner, ids
    finally:
        await connection.execute("DELETE FROM tasks WHERE owner_id = $1", owner)
        await connection.execute("DELETE FROM task_list_versions WHERE user_id = $1", owner)
        await connection.close()


async def test_changes_of_two_tasks_of_one_user_do_not_wait_for_each_other(
    committed_tasks: tuple[asyncpg.Connection, uuid.UUID, list[uuid.UUID]],
) -> None:
    first_connection, owner, (first, second) = committed_tasks
    second_connection = await asyncpg.connect(
        make_url(get_settings().database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    try:
        async with first_connection.transaction():
            await task_repository.save_change(
                first_connection,
                first,
                {"title": "first"},
                lists=ListChange.of([owner], task_id=first),
                events=[],
            )
            # The first change is not committed yet: with one version row per user the
            # second would wait for it (until the timeout).
            async with second_connection.transaction():
                await asyncio.wait_for(
                    task_repository.save_change(
                        second_connection,
                        second,
                        {"title": "second"},
                        lists=ListChange.of([owner], task_id=second),
                        events=[],
                    ),
                    timeout=5,
                )
        assert await _counters(first_connection, owner) == (2, 0)
        slots = await first_connection.fetchval(
            "SELECT count(*) FROM task_list_versions WHERE user_id = $1", owner
        )
        assert slots == 2 <= LIST_VERSION_SLOTS
    finally:
        await second_connection.close()

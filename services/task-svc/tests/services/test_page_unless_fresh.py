"""A kept page's freshness checked inside the page's own statement: no row while it is the
current one, the page rendered afresh, exactly as `render_page` renders it, as soon as any
part of it is out of date."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.read_models import task_list
from task_svc.repositories.tasks import status_version_slot
from task_svc.schemas.tasks import TaskListQuery
from taskhub_common.auth import Principal, Role

CreateTask = Callable[..., Awaitable[dict[str, Any]]]
SHAPES: list[dict[str, Any]] = [
    {},
    {"limit": 1},
    {"status": ["todo"]},
    {"status": ["in_progress", "done"], "tag": ["a"]},
]


async def _connection(session: AsyncSession) -> asyncpg.Connection:
    raw = await (await session.connection()).get_raw_connection()
    connection = raw.driver_connection
    assert isinstance(connection, asyncpg.Connection)  # the test transaction's own
    return connection


async def _render(
    connection: asyncpg.Connection, principal: Principal, query: TaskListQuery
) -> task_list.RenderedPage:
    rendered = await task_list.render_page(connection, principal=principal, query=query)
    assert isinstance(rendered, task_list.RenderedPage)
    return rendered


def _slot(task: dict[str, Any]) -> int:
    return status_version_slot(uuid.UUID(task["id"]))


def _each_part_changed(kept: task_list.Freshness) -> list[task_list.Freshness]:
    return [
        replace(kept, list_version=kept.list_version - 1),
        replace(kept, status_version=kept.status_version - 1),
        replace(kept, shown_version=kept.shown_version - 1),
    ]


async def test_a_current_freshness_gets_no_row_and_any_older_one_the_page(
    session: AsyncSession, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    owner = make_user()
    for number in range(3):
        await create_task(owner, title=f"task {number}", tags=["a"])
    connection = await _connection(session)
    principal = Principal(user_id=owner.id, role=Role.USER)
    for params in SHAPES:
        query = TaskListQuery.model_validate(params)
        rendered = await _render(connection, principal, query)
        kept = rendered.freshness
        unchanged = await task_list.render_page_unless_fresh(
            connection, principal=principal, query=query, kept=kept
        )
        assert unchanged is None, params
        for older in _each_part_changed(kept):
            again = await task_list.render_page_unless_fresh(
                connection, principal=principal, query=query, kept=older
            )
            assert again == rendered, (params, older)


async def test_a_status_change_renders_the_pages_it_concerns_and_no_other(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    owner = make_user()
    tasks = [await create_task(owner, title=f"task {number}") for number in range(3)]
    newest = tasks[-1]
    # A task the one-task page does not show, nor any task of its slot.
    changed = next(
        task for task in tasks[:-1] if _slot(task) != _slot(newest)
    )  # (two tasks of three in the newest's slot: once in 65536 runs)
    connection = await _connection(session)
    principal = Principal(user_id=owner.id, role=Role.USER)
    queries = {
        "all": TaskListQuery(),
        "newest only": TaskListQuery(limit=1),
        "todo": TaskListQuery.model_validate({"status": ["todo"]}),
        "done": TaskListQuery.model_validate({"status": ["done"]}),
    }
    kept = {
        name: (await _render(connection, principal, query)).freshness
        for name, query in queries.items()
    }

    response = await client.patch(
        f"/tasks/{changed['id']}", json={"status": "in_progress"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text

    for name, query in queries.items():
        answer = await task_list.render_page_unless_fresh(
            connection, principal=principal, query=query, kept=kept[name]
        )
        if name in ("newest only", "done"):
            # Neither shows the task nor filters on todo or in_progress: still exact.
            assert answer is None, name
        else:
            assert answer == await _render(connection, principal, query), name

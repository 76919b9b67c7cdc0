"""A kept page's freshness checked inside the page's own statement: no row while it is the
current one, the page rendered afresh, exactly as `render_page` renders it, as soon as any
part of it is out of date; and which kept pages are checked that way."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.read_models import task_list
from task_svc.read_models.page_cache import CHECKS_IN_RENDER_AFTER_CHANGE
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
    connection = await _connection(session)
    principal = Principal(user_id=owner.id, role=Role.USER)
    # (Created in one transaction, the tasks share `created_at`: the id decides the order.)
    first_page = await _render(connection, principal, TaskListQuery(limit=1))
    [shown] = json.loads(first_page.document)["items"]
    # A task the one-task page does not show, nor any task of its slot.
    changed = next(
        task for task in tasks if _slot(task) != _slot(shown)
    )  # (all three tasks in one slot: once in 65536 runs)
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


async def test_a_page_found_out_of_date_is_checked_inside_its_render_while_it_keeps_changing(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    create_task: CreateTask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[str] = []

    def noting(name: str, check: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def noted(*args: Any, **kwargs: Any) -> Any:
            checks.append(name)
            return await check(*args, **kwargs)

        return noted

    monkeypatch.setattr(task_list, "is_fresh", noting("separate", task_list.is_fresh))
    monkeypatch.setattr(
        task_list,
        "render_page_unless_fresh",
        noting("inside the render", task_list.render_page_unless_fresh),
    )
    owner = make_user()
    task = await create_task(owner)

    async def read() -> dict[str, Any]:
        response = await client.get("/tasks", headers=owner.headers)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    async def change(status: str) -> None:
        url = f"/tasks/{task['id']}"
        response = await client.patch(url, json={"status": status}, headers=owner.headers)
        assert response.status_code == 200, response.text

    await read()  # rendered: nothing kept yet
    await read()
    assert checks == ["separate"]
    await change("in_progress")
    assert (await read())["items"][0]["status"] == "in_progress"
    assert checks[1:] == ["separate"]  # found out of date, then rendered
    await change("done")
    assert (await read())["items"][0]["status"] == "done"
    assert checks[2:] == ["inside the render"]  # found out of date and rendered at once
    for _ in range(CHECKS_IN_RENDER_AFTER_CHANGE):
        await read()
    await read()
    assert checks[3:] == ["inside the render"] * CHECKS_IN_RENDER_AFTER_CHANGE + ["separate"]

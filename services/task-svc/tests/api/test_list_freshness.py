"""No kept list page outlives a write that changes it: every kind of write, every list shape.

Each case reads every list shape of every user involved (so each page is kept), makes one
write, then reads them all again: each answer must equal a page PostgreSQL renders afresh
at that moment. A page the finer invalidation wrongly keeps (a status filter, a shown task,
a moved page boundary, another user's list) fails here, with the write and the shape named.
Then every task those pages show must read in them exactly as `GET /tasks/{id}` reads it:
a write path that left a task's stored JSON (`tasks.item`) behind fails here. Both ways of
checking a kept page run every case: the separate freshness check, and the check inside
the page's render that a page recently found out of date gets.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.api.deps import list_page_cache
from task_svc.read_models import task_list
from task_svc.read_models.page_cache import CHECKS_IN_RENDER_AFTER_CHANGE, KeptPage, query_key
from task_svc.schemas.tasks import TaskListQuery
from taskhub_common.auth import Principal, Role

CreateTask = Callable[..., Awaitable[dict[str, Any]]]
SOON = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
LATER = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
WEEK = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class World:
    client: httpx.AsyncClient
    session: AsyncSession
    owner: Any
    assignee: Any
    newcomer: Any
    tasks: list[dict[str, Any]]

    def shapes(self) -> list[dict[str, Any]]:
        return [
            {},
            {"limit": 2},
            {"page": 2, "limit": 2},
            {"page": 3, "limit": 2},
            {"status": ["todo"]},
            {"status": ["in_progress", "done"]},
            {"status": ["canceled"]},
            {"tag": ["a"]},
            {"tag": ["a", "b"]},
            {"due_before": WEEK},
            {"due_after": WEEK},
            {"assignee_id": str(self.assignee.id)},
            {"status": ["todo"], "tag": ["a"], "limit": 1},
        ]

    async def read_all(self) -> dict[tuple[str, str], dict[str, Any]]:
        pages = {}
        for user in (self.owner, self.assignee, self.newcomer):
            for params in self.shapes():
                response = await self.client.get("/tasks", params=params, headers=user.headers)
                assert response.status_code == 200, response.text
                pages[(str(user.id), json.dumps(params))] = response.json()
        return pages

    async def kept_pages(self) -> list[KeptPage]:
        cache = await list_page_cache()
        pages = []
        for user in (self.owner, self.assignee, self.newcomer):
            for params in self.shapes():
                page = cache.find((user.id, query_key(TaskListQuery.model_validate(params))))
                assert page is not None
                pages.append(page)
        return pages

    async def rendered_now(self) -> dict[tuple[str, str], dict[str, Any]]:
        raw = await (await self.session.connection()).get_raw_connection()
        connection = raw.driver_connection
        assert isinstance(connection, asyncpg.Connection)  # the test transaction's own
        pages = {}
        for user in (self.owner, self.assignee, self.newcomer):
            for params in self.shapes():
                rendered = await task_list.render_page(
                    connection,
                    principal=Principal(user_id=user.id, role=Role.USER),
                    query=TaskListQuery.model_validate(params),
                )
                assert isinstance(rendered, task_list.RenderedPage)
                pages[(str(user.id), json.dumps(params))] = json.loads(rendered.document)
        return pages

    async def patch(self, user: Any, index: int, body: dict[str, Any]) -> None:
        url = f"/tasks/{self.tasks[index]['id']}"
        response = await self.client.patch(url, json=body, headers=user.headers)
        assert response.status_code == 200, response.text


Write = Callable[[World], Awaitable[None]]


Body = dict[str, Any] | Callable[[World], dict[str, Any]]


def _patch(by: str, index: int, body: Body) -> Write:
    """`by` ("owner" or "assignee") changes task `index` with `body` (or `body(world)`)."""

    async def write(world: World) -> None:
        await world.patch(getattr(world, by), index, body(world) if callable(body) else body)

    return write


def _to_newcomer(world: World) -> dict[str, Any]:
    return {"assignee_id": str(world.newcomer.id)}


async def _bulk(world: World) -> None:
    ids = [world.tasks[0]["id"], world.tasks[3]["id"]]
    body = {"ids": ids, "status": "canceled"}
    response = await world.client.post("/tasks/bulk-status", json=body, headers=world.owner.headers)
    assert response.status_code == 200, response.text


async def _create(world: World) -> None:
    body = {"title": "new", "tags": ["a"], "assignee_id": str(world.assignee.id), "due_at": SOON}
    response = await world.client.post("/tasks", json=body, headers=world.owner.headers)
    assert response.status_code == 201, response.text


async def _delete(world: World) -> None:
    url = f"/tasks/{world.tasks[2]['id']}"
    response = await world.client.delete(url, headers=world.owner.headers)
    assert response.status_code == 204, response.text


WRITES: dict[str, Write] = {
    "status todo -> in_progress (owner)": _patch("owner", 0, {"status": "in_progress"}),
    "status todo -> done (assignee)": _patch("assignee", 1, {"status": "done"}),
    "status of an unassigned task": _patch("owner", 4, {"status": "canceled"}),
    "status to the same value": _patch("owner", 0, {"status": "todo"}),
    "status and title at once": _patch("owner", 1, {"status": "done", "title": "both"}),
    "title": _patch("owner", 2, {"title": "renamed"}),
    "description": _patch("owner", 3, {"description": "more words"}),
    "priority": _patch("owner", 4, {"priority": "high"}),
    "due date set": _patch("owner", 4, {"due_at": SOON}),
    "due date moved": _patch("owner", 0, {"due_at": LATER}),
    "due date cleared": _patch("owner", 1, {"due_at": None}),
    "tags": _patch("owner", 2, {"tags": ["b", "c"]}),
    "tags cleared": _patch("owner", 0, {"tags": []}),
    "assigned": _patch("owner", 4, _to_newcomer),
    "reassigned": _patch("owner", 0, _to_newcomer),
    "unassigned": _patch("owner", 1, {"assignee_id": None}),
    "bulk status": _bulk,
    "creation": _create,
    "deletion": _delete,
}


@pytest.mark.parametrize("check", ["separate check", "check inside the render"])
@pytest.mark.parametrize("name", list(WRITES))
async def test_no_kept_page_outlives_a_write(
    name: str,
    check: str,
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    owner, assignee, newcomer = make_user(), make_user(), make_user()
    to_assignee = {"assignee_id": str(assignee.id)}
    tasks = [
        await create_task(owner, title="t0", tags=["a", "b"], due_at=SOON, **to_assignee),
        await create_task(owner, title="t1", tags=["a"], due_at=LATER, **to_assignee),
        await create_task(owner, title="t2", tags=["b"], **to_assignee),
        await create_task(owner, title="t3", due_at=SOON),
        await create_task(owner, title="t4", tags=["a"]),
    ]
    world = World(client, session, owner, assignee, newcomer, tasks)
    await world.read_all()  # every page is kept now
    assert await world.read_all() == await world.rendered_now()
    inside_render = check == "check inside the render"
    if inside_render:
        for page in await world.kept_pages():
            page.checks_in_render = 1

    await WRITES[name](world)

    served, fresh = await world.read_all(), await world.rendered_now()
    stale = [key for key in fresh if served[key] != fresh[key]]
    assert not stale, f"after {name!r} these pages were stale: {stale}"
    if inside_render:
        # Each page took that check: served again (its count spent), or rendered anew.
        counts = {page.checks_in_render for page in await world.kept_pages()}
        assert counts <= {0, CHECKS_IN_RENDER_AFTER_CHANGE}, counts
    # Each task's item (rendered by the database on writes) is the task as GET reads it.
    items = {item["id"]: item for page in fresh.values() for item in page["items"]}
    for task_id, item in items.items():
        alone = await client.get(f"/tasks/{task_id}", headers=owner.headers)
        assert item == alone.json(), f"after {name!r} the item of {task_id} is not its GET"

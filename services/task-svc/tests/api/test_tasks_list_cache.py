"""Lists served from the page cache never show a state older than the last write.

Every write below changes what some list shows; the list was read (and kept) just before,
so a cache that missed the change would answer with the old page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from prometheus_client import REGISTRY

from taskhub_common.auth import Role

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


def _lookups(result: str) -> float:
    value = REGISTRY.get_sample_value("taskhub_task_list_cache_lookups_total", {"result": result})
    return value or 0.0


async def _list(client: httpx.AsyncClient, user: Any, **params: Any) -> dict[str, Any]:
    response = await client.get("/tasks", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_unchanged_list_is_served_from_the_cache(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    owner = make_user()
    await create_task(owner, title="one")
    first = await _list(client, owner)
    hits = _lookups("hit")
    assert await _list(client, owner) == first
    assert _lookups("hit") == hits + 1


async def test_every_kind_of_write_shows_in_the_next_list(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    owner, assignee = make_user(), make_user()
    task = await create_task(owner, title="shared", assignee_id=str(assignee.id), tags=["a"])
    assert [t["title"] for t in (await _list(client, assignee))["items"]] == ["shared"]

    # The assignee's status change shows in the owner's list, and the other way round.
    await _list(client, owner)
    await client.patch(f"/tasks/{task['id']}", json={"status": "done"}, headers=assignee.headers)
    assert (await _list(client, owner))["items"][0]["status"] == "done"
    await client.patch(f"/tasks/{task['id']}", json={"tags": ["b"]}, headers=owner.headers)
    assert (await _list(client, assignee))["items"][0]["tags"] == ["b"]

    # Bulk status changes and filters over the changed field.
    assert (await _list(client, assignee, status="in_progress"))["total"] == 0
    bulk = {"ids": [task["id"]], "status": "in_progress"}
    await client.post("/tasks/bulk-status", json=bulk, headers=owner.headers)
    assert (await _list(client, assignee, status="in_progress"))["total"] == 1

    # Reassignment leaves the old assignee's list and enters the new one's.
    newcomer = make_user()
    assert (await _list(client, newcomer))["total"] == 0
    reassign = {"assignee_id": str(newcomer.id)}
    await client.patch(f"/tasks/{task['id']}", json=reassign, headers=owner.headers)
    assert (await _list(client, assignee))["total"] == 0
    assert (await _list(client, newcomer))["total"] == 1

    # Deletion empties every list the task was in.
    await client.delete(f"/tasks/{task['id']}", headers=owner.headers)
    assert (await _list(client, owner))["total"] == 0
    assert (await _list(client, newcomer))["total"] == 0


async def test_a_new_task_shows_in_its_assignees_list(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    owner, assignee = make_user(), make_user()
    assert (await _list(client, assignee))["total"] == 0
    await create_task(owner, title="for you", assignee_id=str(assignee.id))
    assert (await _list(client, assignee))["total"] == 1


async def test_admin_lists_bypass_the_cache(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    admin, owner = make_user(Role.ADMIN), make_user()
    before = (await _list(client, admin))["total"]
    bypasses = _lookups("bypass")
    await create_task(owner)
    assert (await _list(client, admin))["total"] == before + 1
    assert _lookups("bypass") == bypasses + 1

"""Who may see and change what (BOLA/BFLA): strangers get 404, assignees status only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from taskhub_common.auth import Role

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def shared(make_user: Callable[..., Any], create_task: CreateTask) -> dict[str, Any]:
    alice, bob, mallory = make_user(), make_user(), make_user()
    task = await create_task(alice, assignee_id=str(bob.id), tags=["t"])
    return {"alice": alice, "bob": bob, "mallory": mallory, "task": task}


async def test_a_stranger_gets_404_everywhere_and_nothing_changes(
    client: httpx.AsyncClient, shared: dict[str, Any]
) -> None:
    task, mallory, alice = shared["task"], shared["mallory"], shared["alice"]
    url = f"/tasks/{task['id']}"
    responses = [
        await client.get(url, headers=mallory.headers),
        await client.patch(url, json={"status": "done"}, headers=mallory.headers),
        await client.delete(url, headers=mallory.headers),
    ]
    bulk = await client.post(
        "/tasks/bulk-status",
        json={"ids": [task["id"]], "status": "done"},
        headers=mallory.headers,
    )

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert {r.json()["error"]["code"] for r in responses} == {"NOT_FOUND"}
    assert bulk.json() == {"updated": [], "not_found": [task["id"]]}
    assert (await client.get(url, headers=alice.headers)).json() == task


async def test_the_assignee_sees_and_may_change_the_status_only(
    client: httpx.AsyncClient, shared: dict[str, Any]
) -> None:
    task, bob = shared["task"], shared["bob"]
    url = f"/tasks/{task['id']}"

    seen = await client.get(url, headers=bob.headers)
    status_change = await client.patch(url, json={"status": "in_progress"}, headers=bob.headers)
    title_change = await client.patch(
        url, json={"status": "done", "title": "mine now"}, headers=bob.headers
    )
    delete = await client.delete(url, headers=bob.headers)

    assert seen.status_code == 200
    assert status_change.status_code == 200
    assert status_change.json()["status"] == "in_progress"
    assert title_change.status_code == 403
    assert title_change.json()["error"]["code"] == "FORBIDDEN"
    assert delete.status_code == 403
    after = (await client.get(url, headers=bob.headers)).json()
    assert (after["title"], after["status"]) == (task["title"], "in_progress")


@pytest.mark.parametrize(
    "changes", [{"assignee_id": None}, {"tags": []}, {"due_at": None}, {"webhook_url": None}]
)
async def test_the_assignee_cannot_change_other_fields(
    client: httpx.AsyncClient, shared: dict[str, Any], changes: dict[str, Any]
) -> None:
    url = f"/tasks/{shared['task']['id']}"
    response = await client.patch(url, json=changes, headers=shared["bob"].headers)
    assert response.status_code == 403


async def test_an_admin_sees_changes_and_deletes_any_task(
    client: httpx.AsyncClient, shared: dict[str, Any], make_user: Callable[..., Any]
) -> None:
    admin = make_user(Role.ADMIN)
    url = f"/tasks/{shared['task']['id']}"

    assert (await client.get(url, headers=admin.headers)).status_code == 200
    patched = await client.patch(url, json={"title": "by admin"}, headers=admin.headers)
    assert patched.json()["title"] == "by admin"
    assert patched.json()["owner_id"] == str(shared["alice"].id)
    assert (await client.delete(url, headers=admin.headers)).status_code == 204

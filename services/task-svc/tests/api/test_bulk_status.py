"""POST /tasks/bulk-status."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


async def test_bulk_updates_what_the_caller_may_change_and_reports_the_rest(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice, bob = make_user(), make_user()
    own = [await create_task(alice) for _ in range(3)]
    assigned_to_alice = await create_task(bob, assignee_id=str(alice.id))
    bobs_own = await create_task(bob)
    unknown = str(uuid.uuid4())
    ids = [own[0]["id"], unknown, bobs_own["id"], own[1]["id"], assigned_to_alice["id"]]

    response = await client.post(
        "/tasks/bulk-status", json={"ids": ids, "status": "in_progress"}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "updated": [own[0]["id"], own[1]["id"], assigned_to_alice["id"]],
        "not_found": [unknown, bobs_own["id"]],
    }
    listed = (await client.get("/tasks", headers=alice.headers)).json()["items"]
    statuses = {task["id"]: task["status"] for task in listed}
    assert statuses == {
        own[0]["id"]: "in_progress",
        own[1]["id"]: "in_progress",
        own[2]["id"]: "todo",
        assigned_to_alice["id"]: "in_progress",
    }
    bob_view = await client.get(f"/tasks/{bobs_own['id']}", headers=bob.headers)
    assert bob_view.json()["status"] == "todo"


async def test_bulk_with_the_current_status_reports_updated(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice = make_user()
    task = await create_task(alice, status="done")
    response = await client.post(
        "/tasks/bulk-status", json={"ids": [task["id"]], "status": "done"}, headers=alice.headers
    )
    assert response.json() == {"updated": [task["id"]], "not_found": []}

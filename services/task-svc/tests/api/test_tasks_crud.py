"""Create, read, change and delete tasks through the HTTP API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


async def test_create_returns_the_task_with_location_and_rate_limit_headers(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice = make_user()
    body = {
        "title": "  Write the report  ",
        "description": "Quarterly numbers",
        "priority": "high",
        "due_at": "2031-05-01T12:00:00+02:00",
        "tags": ["Work", " urgent ", "work"],
        "webhook_url": "https://hooks.example.com/done",
    }
    response = await client.post("/tasks", json=body, headers=alice.headers)

    assert response.status_code == 201, response.text
    task = response.json()
    assert response.headers["Location"] == f"/tasks/{task['id']}"
    assert task["title"] == "Write the report"
    assert task["status"] == "todo"
    assert task["priority"] == "high"
    assert task["due_at"] == "2031-05-01T10:00:00.000000Z"
    assert task["tags"] == ["urgent", "work"]
    assert task["owner_id"] == str(alice.id)
    assert task["assignee_id"] is None
    assert task["webhook_url"] == "https://hooks.example.com/done"
    assert task["created_at"] == task["updated_at"]
    assert response.headers["RateLimit-Policy"] == '"create";q=60;w=60'
    assert response.headers["RateLimit"].startswith('"create";r=59;t=')


async def test_get_returns_the_same_representation_as_create_and_list(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice = make_user()
    created = await create_task(alice, tags=["b", "a"], due_at="2030-01-01T00:00:00Z")

    fetched = await client.get(f"/tasks/{created['id']}", headers=alice.headers)
    listed = await client.get("/tasks", headers=alice.headers)

    assert fetched.status_code == 200
    assert fetched.json() == created
    assert listed.json()["items"] == [created]


async def test_owner_patches_any_field_and_updated_at_moves(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice, bob = make_user(), make_user()
    task = await create_task(alice, tags=["old"])
    changes = {
        "title": "Renamed",
        "description": None,
        "status": "in_progress",
        "priority": "low",
        "due_at": "2032-02-02T02:02:02.5Z",
        "tags": ["New", "other"],
        "assignee_id": str(bob.id),
        "webhook_url": "http://hooks.example.com/x",
    }
    response = await client.patch(f"/tasks/{task['id']}", json=changes, headers=alice.headers)

    assert response.status_code == 200, response.text
    updated = response.json()
    assert {key: updated[key] for key in changes} == {
        **changes,
        "due_at": "2032-02-02T02:02:02.500000Z",
        "tags": ["new", "other"],
    }
    assert updated["updated_at"] >= task["updated_at"]
    assert updated["created_at"] == task["created_at"]


async def test_patch_changes_only_the_fields_sent(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice = make_user()
    task = await create_task(alice, description="keep me", tags=["keep"])
    response = await client.patch(
        f"/tasks/{task['id']}", json={"priority": "high"}, headers=alice.headers
    )
    assert response.json()["description"] == "keep me"
    assert response.json()["tags"] == ["keep"]
    assert response.json()["priority"] == "high"


async def test_delete_removes_the_task(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice = make_user()
    task = await create_task(alice, tags=["x"])

    deleted = await client.delete(f"/tasks/{task['id']}", headers=alice.headers)
    again = await client.get(f"/tasks/{task['id']}", headers=alice.headers)

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "NOT_FOUND"


async def test_requests_without_a_token_are_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/tasks")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"

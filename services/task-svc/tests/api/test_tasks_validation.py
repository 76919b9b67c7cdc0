"""Bad input is a 422 envelope naming the field, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


def _fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return {detail["field"] for detail in error.get("details", [])}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "body.title"),
        ({"title": "   "}, "body.title"),
        ({"title": "x" * 201}, "body.title"),
        ({"title": "nul \x00 byte"}, "body.title"),
        ({"title": 5}, "body.title"),
        ({"title": "t", "description": "d" * 10_001}, "body.description"),
        ({"title": "t", "status": "finished"}, "body.status"),
        ({"title": "t", "priority": "urgent"}, "body.priority"),
        ({"title": "t", "due_at": "2030-01-01T00:00:00"}, "body.due_at"),
        ({"title": "t", "due_at": "tomorrow"}, "body.due_at"),
        ({"title": "t", "tags": ["ok", " "]}, "body.tags.1"),
        ({"title": "t", "tags": ["x" * 51]}, "body.tags.0"),
        # Found by fuzzing: a number was read as a Unix timestamp.
        ({"title": "t", "due_at": 0}, "body.due_at"),
        ({"title": "t", "due_at": "1700000000"}, "body.due_at"),
        ({"title": "t", "tags": [f"t{i}" for i in range(21)]}, "body.tags"),
        ({"title": "t", "tags": "not-a-list"}, "body.tags"),
        ({"title": "t", "assignee_id": "not-a-uuid"}, "body.assignee_id"),
        ({"title": "t", "webhook_url": "ftp://example.com/x"}, "body.webhook_url"),
        ({"title": "t", "webhook_url": "javascript:alert(1)"}, "body.webhook_url"),
        ({"title": "t", "webhook_url": "https://e.com/" + "a" * 2048}, "body.webhook_url"),
        ({"title": "t", "owner_id": str(uuid.uuid4())}, "body.owner_id"),
        ({"title": "t", "id": str(uuid.uuid4())}, "body.id"),
        ({"title": "t", "created_at": "2030-01-01T00:00:00Z"}, "body.created_at"),
        ({}, "body.title"),
    ],
)
async def test_create_refuses_bad_fields(
    client: httpx.AsyncClient, make_user: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/tasks", json=body, headers=make_user().headers)
    assert field in _fields(response)


async def test_extra_field_message_does_not_echo_the_input(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    body = {"title": "t", "owner_id": "secret-ish"}
    response = await client.post("/tasks", json=body, headers=make_user().headers)
    assert "secret-ish" not in response.text
    assert response.json()["error"]["details"][0]["message"] == "Unknown field."


async def test_malformed_json_is_422(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    headers = {**make_user().headers, "Content-Type": "application/json"}
    response = await client.post("/tasks", content=b'{"title": ', headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": None}, "body.title"),
        ({"status": None}, "body.status"),
        ({"priority": None}, "body.priority"),
        ({"tags": None}, "body.tags"),
        ({"status": "finished"}, "body.status"),
        ({"owner_id": str(uuid.uuid4())}, "body.owner_id"),
    ],
)
async def test_patch_refuses_bad_fields(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    create_task: CreateTask,
    body: dict[str, Any],
    field: str,
) -> None:
    alice = make_user()
    task = await create_task(alice)
    response = await client.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)
    assert field in _fields(response)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1000", "query.limit"),
        ("limit=101", "query.limit"),
        ("limit=0", "query.limit"),
        ("page=0", "query.page"),
        ("page=99999999999999999999", "query.page"),
        ("limit=abc", "query.limit"),
        ("status=finished", "query.status.0"),
        ("status=todo&status=nope", "query.status.1"),
        ("assignee_id=xyz", "query.assignee_id"),
        ("due_before=yesterday", "query.due_before"),
        ("due_after=2030-01-01T00:00:00", "query.due_after"),
        ("tag=", "query.tag.0"),
        # Found by fuzzing: numbers were read as Unix timestamps.
        ("due_before=0.5", "query.due_before"),
        ("due_after=1700000000", "query.due_after"),
    ],
)
async def test_list_refuses_bad_parameters(
    client: httpx.AsyncClient, make_user: Callable[..., Any], query: str, field: str
) -> None:
    response = await client.get(f"/tasks?{query}", headers=make_user().headers)
    assert field in _fields(response)


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_non_uuid_task_id_is_422(
    client: httpx.AsyncClient, make_user: Callable[..., Any], method: str
) -> None:
    response = await client.request(
        method,
        "/tasks/not-a-uuid",
        json={} if method == "PATCH" else None,
        headers=make_user().headers,
    )
    assert "path.task_id" in _fields(response)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [], "status": "done"}, "body.ids"),
        ({"ids": [str(uuid.uuid4()) for _ in range(101)], "status": "done"}, "body.ids"),
        ({"ids": ["a"], "status": "done"}, "body.ids.0"),
        ({"ids": [str(uuid.uuid4())], "status": "closed"}, "body.status"),
        ({"ids": [str(uuid.uuid4())]}, "body.status"),
        ({"ids": [str(uuid.uuid4())], "status": "done", "x": 1}, "body.x"),
    ],
)
async def test_bulk_refuses_bad_bodies(
    client: httpx.AsyncClient, make_user: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/tasks/bulk-status", json=body, headers=make_user().headers)
    assert field in _fields(response)


async def test_bulk_refuses_duplicate_ids(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    task_id = str(uuid.uuid4())
    body = {"ids": [task_id, task_id], "status": "done"}
    response = await client.post("/tasks/bulk-status", json=body, headers=make_user().headers)
    assert "body.ids" in _fields(response)


async def test_openapi_declares_what_validation_enforces(client: httpx.AsyncClient) -> None:
    # Found by fuzzing: bodies the document called valid were refused (null in a PATCH,
    # blank or NUL text), so clients could not tell a valid request from the schema.
    spec = (await client.get("/tasks/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    update = schemas["TaskUpdate"]["properties"]
    for name in ("title", "status", "priority", "tags"):
        assert "anyOf" not in update[name], f"{name} is documented as nullable"
    assert "anyOf" in update["description"], "description may be cleared with null"
    create = schemas["TaskCreate"]["properties"]
    assert create["title"]["pattern"] == create["tags"]["items"]["pattern"]
    assert create["tags"]["items"]["maxLength"] == 50
    assert "pattern" in create["description"]["anyOf"][0]

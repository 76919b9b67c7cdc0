"""No input reaches a 500: every body field and query parameter of task-svc, generated from
its OpenAPI document, answers edge values with a 422 naming the field."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from task_svc.main import app
from taskhub_common.auth import Role
from taskhub_common.input_edges import (
    INSTANTS_INSIDE,
    EdgeCase,
    InputField,
    assert_refused_naming_the_field,
    edge_cases,
    every_route_document,
    input_fields,
    send,
)

# task-svc has no internal routes: its published document is all of it.
SPEC = every_route_document(app)
FIELDS = input_fields(SPEC)
# A valid body per route: an edge value in one field is then the only thing wrong.
BASES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/tasks"): {"title": "A task"},
    ("patch", "/tasks/{task_id}"): {},
    ("post", "/tasks/bulk-status"): {"ids": [str(uuid.uuid4())], "status": "done"},
}
# Routes for administrators only: their edge cases are sent as an administrator (a user
# is refused before the parameters are read).
ADMIN_PATHS = "/tasks/outbox/"
INSTANT_FIELDS = [field for field in FIELDS if field.kind == "instant"]
RANGE_ENDS = [(field, value) for field in INSTANT_FIELDS for value in INSTANTS_INSIDE]

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


def test_every_field_of_the_document_is_covered() -> None:
    body_routes = {field.route for field in FIELDS if field.location == "body"}
    assert body_routes <= set(BASES)
    # The walk finds the fields that once reached a 500, so it cannot silently find none.
    assert {
        "body.title",
        "body.description",
        "body.tags",
        "body.due_at",
        "body.webhook_url",
        "query.due_before",
        "query.due_after",
        "query.tag",
        "query.page",
        "query.limit",
    } <= {field.loc for field in FIELDS}


@pytest.fixture
async def task_id(create_task: CreateTask, make_user: Callable[..., Any]) -> str:
    return str((await create_task(make_user()))["id"])


async def _send(
    client: httpx.AsyncClient, user: Any, field: InputField, value: Any, task_id: str
) -> httpx.Response:
    return await send(
        client,
        field,
        value,
        base=BASES.get(field.route, {}),
        headers=user.headers,
        path_values={"task_id": task_id, "event_id": str(uuid.uuid4())},
    )


@pytest.mark.parametrize("case", edge_cases(SPEC), ids=lambda case: case.id)
async def test_edge_value_is_a_422_naming_the_field(
    client: httpx.AsyncClient, make_user: Callable[..., Any], task_id: str, case: EdgeCase
) -> None:
    role = Role.ADMIN if case.field.path.startswith(ADMIN_PATHS) else Role.USER
    response = await _send(client, make_user(role), case.field, case.value, task_id)
    assert_refused_naming_the_field(response, case)


@pytest.mark.parametrize(("field", "value"), RANGE_ENDS, ids=lambda item: str(item))
async def test_the_ends_of_the_date_range_are_accepted(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    create_task: CreateTask,
    field: InputField,
    value: str,
) -> None:
    user = make_user()
    own_task = str((await create_task(user))["id"])
    response = await _send(client, user, field, value, own_task)
    assert response.status_code < 300, response.text


@pytest.mark.parametrize(
    ("sent", "rendered", "filter_"),
    [
        (
            "1970-01-01T14:00:00+14:00",
            "1970-01-01T00:00:00.000000Z",
            {"due_before": "1970-01-01T00:00:01Z", "due_after": "1969-12-31T10:00:00-14:00"},
        ),
        (
            "9999-12-30T09:59:59-14:00",
            "9999-12-30T23:59:59.000000Z",
            {"due_after": "9999-12-30T23:59:58Z", "due_before": "9999-12-31T13:59:59+14:00"},
        ),
    ],
    ids=["first", "last"],
)
async def test_a_due_date_at_either_end_is_stored_rendered_and_found(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    create_task: CreateTask,
    sent: str,
    rendered: str,
    filter_: dict[str, str],
) -> None:
    user = make_user()
    task = await create_task(user, due_at=sent)
    assert task["due_at"] == rendered
    read = await client.get(f"/tasks/{task['id']}", headers=user.headers)
    assert read.json()["due_at"] == rendered
    (near_name, near), (exact_name, exact) = filter_.items()
    found = await client.get("/tasks", params={near_name: near}, headers=user.headers)
    assert [item["id"] for item in found.json()["items"]] == [task["id"]]
    # The bounds are exclusive: the task's own instant, in another offset, leaves it out.
    left_out = await client.get("/tasks", params={exact_name: exact}, headers=user.headers)
    assert left_out.json()["items"] == []


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF", "%C3"], ids=["surrogate", "ff", "cut"])
@pytest.mark.parametrize(
    "field",
    [field for field in FIELDS if field.location == "query" and field.kind == "text"],
    ids=str,
)
async def test_query_text_that_is_not_utf8_is_never_a_500(
    client: httpx.AsyncClient, make_user: Callable[..., Any], field: InputField, raw: str
) -> None:
    url = httpx.URL(field.path).copy_with(query=f"{field.names[0]}={raw}".encode())
    response = await client.request(field.method, url, headers=make_user().headers)
    assert response.status_code in (200, 422), response.text


@pytest.mark.parametrize("field", ["title", "description", "tags"])
async def test_astral_characters_are_still_text(
    client: httpx.AsyncClient, create_task: CreateTask, make_user: Callable[..., Any], field: str
) -> None:
    value: Any = "rocket \U0001f680"
    task = await create_task(make_user(), **{field: [value] if field == "tags" else value})
    assert value in (task[field] if field == "tags" else [task[field]])

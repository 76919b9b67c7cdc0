"""No input reaches a 500: every body field and query parameter of notify-svc (the internal
event endpoint included), generated from its OpenAPI document, answers edge values with a
422 naming the field."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from notify_svc.api.routers import internal
from notify_svc.core.config import get_settings
from notify_svc.db.session import database
from notify_svc.main import app
from notify_svc.repositories import reminders as reminders_repo
from taskhub_common.auth import Role
from taskhub_common.input_edges import (
    INSTANTS_INSIDE,
    EdgeCase,
    InputField,
    assert_refused_naming_the_field,
    edge_cases,
    every_route_document,
    input_fields,
    json_body,
    named_errors,
    send,
)
from taskhub_common.text import INSTANT_RANGE

pytestmark = pytest.mark.integration

# Every route, the unpublished internal ones included.
SPEC = every_route_document(app, internal.router)
FIELDS = input_fields(SPEC)
INSTANT_FIELDS = [field for field in FIELDS if field.kind == "instant"]
RANGE_ENDS = [(field, value) for field in INSTANT_FIELDS for value in INSTANTS_INSIDE]
BODY_ROUTES = {("post", "/notify/email"), ("post", "/notify/webhook"), ("post", "/internal/events")}


def _event() -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "task.deadline_changed",
        "occurred_at": "2026-01-01T00:00:00Z",
        "task": {
            "id": str(uuid.uuid4()),
            "title": "Write the report",
            "owner_id": str(uuid.uuid4()),
            "due_at": "2030-01-01T00:00:00Z",
            "status": "todo",
        },
    }


@pytest.fixture
def bases(receiver: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body per route: an edge value in one field is then the only thing wrong."""
    return {
        ("post", "/notify/email"): {"to": "someone@example.com", "subject": "s", "body": "b"},
        ("post", "/notify/webhook"): {"url": receiver.url("/ok"), "payload": {"n": 1}},
        ("post", "/internal/events"): _event(),
    }


@pytest.fixture
def headers(make_user: Callable[..., Any], internal_headers: dict[str, str]) -> dict[str, str]:
    # An administrator reaches every route; the internal token opens /internal.
    return {**make_user(Role.ADMIN).headers, **internal_headers}


def test_every_field_of_the_document_is_covered() -> None:
    assert {field.route for field in FIELDS if field.location == "body"} == BODY_ROUTES
    assert {
        "body.to",
        "body.subject",
        "body.body",
        "body.send_at",
        "body.url",
        "body.payload",
        "body.event_id",
        "body.occurred_at",
        "body.task.title",
        "body.task.webhook_url",
        "body.task.due_at",
        "body.task.status",
        "query.page",
        "query.limit",
    } <= {field.loc for field in FIELDS}


async def _send(
    client: httpx.AsyncClient,
    bases: dict[tuple[str, str], dict[str, Any]],
    headers: dict[str, str],
    field: InputField,
    value: Any,
) -> httpx.Response:
    return await send(
        client,
        field,
        value,
        base=bases.get(field.route, {}),
        headers=headers,
        path_values={"job_id": str(uuid.uuid4())},
    )


@pytest.mark.parametrize("case", edge_cases(SPEC), ids=lambda case: case.id)
async def test_edge_value_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    bases: dict[tuple[str, str], dict[str, Any]],
    headers: dict[str, str],
    case: EdgeCase,
) -> None:
    response = await _send(client, bases, headers, case.field, case.value)
    assert_refused_naming_the_field(response, case)


@pytest.mark.parametrize(("field", "value"), RANGE_ENDS, ids=lambda item: str(item))
async def test_the_ends_of_the_date_range_are_not_refused_as_out_of_range(
    client: httpx.AsyncClient,
    bases: dict[tuple[str, str], dict[str, Any]],
    headers: dict[str, str],
    field: InputField,
    value: str,
) -> None:
    response = await _send(client, bases, headers, field, value)
    if field.loc == "body.send_at" and value.startswith("9999"):
        # In range, but past the scheduling horizon: refused for that reason alone.
        [message] = named_errors(response.json(), field)
        assert message.endswith("send_at must be within a year from now."), response.text
    else:
        assert response.status_code < 300, response.text


@pytest.mark.parametrize("key", [None, "edge-key-1"], ids=["plain", "idempotency-key"])
@pytest.mark.parametrize("field", ["subject", "body"])
async def test_a_lone_surrogate_in_an_email_is_a_422_with_or_without_a_key(
    client: httpx.AsyncClient,
    bases: dict[tuple[str, str], dict[str, Any]],
    headers: dict[str, str],
    field: str,
    key: str | None,
) -> None:
    body = {**bases[("post", "/notify/email")], field: "hello \ud83d"}
    extra = {"Idempotency-Key": key} if key else {}
    response = await client.post(
        "/notify/email",
        content=json_body(body),
        headers=headers | extra | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == f"body.{field}"
    assert "surrogate" in detail["message"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"k": {"deep": ["\udc00"]}}, "A string in the payload must not contain lone UTF-16"),
        ({"\ud800": 1}, "A key in the payload must not contain lone UTF-16"),
        ({"k": "a\x00"}, "A string in the payload must not contain NUL"),
    ],
)
async def test_a_webhook_payload_names_what_is_wrong_in_it(
    client: httpx.AsyncClient,
    bases: dict[tuple[str, str], dict[str, Any]],
    headers: dict[str, str],
    payload: dict[str, Any],
    message: str,
) -> None:
    body = {**bases[("post", "/notify/webhook")], "payload": payload}
    response = await client.post(
        "/notify/webhook",
        content=json_body(body),
        headers=headers | {"Content-Type": "application/json"},
    )
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == "body.payload"
    assert message in detail["message"]
    assert "too large" not in detail["message"]


@pytest.mark.parametrize(
    "due_at", ["1970-01-01T14:00:00+14:00", "9999-12-30T09:59:59-14:00"], ids=["first", "last"]
)
async def test_a_reminder_lead_holds_at_either_end_of_the_range(
    client: httpx.AsyncClient, internal_headers: dict[str, str], due_at: str
) -> None:
    event = _event()
    event["task"]["due_at"] = due_at
    response = await client.post("/internal/events", json=event, headers=internal_headers)
    assert response.status_code == 202, response.text
    async with database.sessionmaker() as session:
        reminder = await reminders_repo.get_for_task(session, uuid.UUID(event["task"]["id"]))
    assert reminder is not None
    lead = timedelta(minutes=get_settings().reminder_lead_minutes)
    assert reminder.remind_at == datetime.fromisoformat(due_at) - lead


async def test_an_event_out_of_range_is_refused_every_time_not_a_500(
    client: httpx.AsyncClient, internal_headers: dict[str, str]
) -> None:
    # The relay retries what fails: a 422 tells it to stop, a 500 kept it retrying forever.
    event = _event()
    event["task"]["due_at"] = "0001-01-01T00:00:00+14:00"
    for _ in range(2):
        response = await client.post("/internal/events", json=event, headers=internal_headers)
        assert response.status_code == 422
        assert INSTANT_RANGE in response.json()["error"]["details"][0]["message"]

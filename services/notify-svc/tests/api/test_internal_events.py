"""task-svc's events: idempotent handling, task.done notifications, reminders, auth-svc down."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from notify_svc.db.session import database
from notify_svc.repositories import reminders as reminders_repo

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]


def _event(
    event_type: str,
    *,
    owner_id: uuid.UUID,
    assignee_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    webhook_url: str | None = None,
    due_at: datetime | None = None,
    status: str = "done",
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "task": {
            "id": str(task_id or uuid.uuid4()),
            "title": "Write the report",
            "owner_id": str(owner_id),
            "assignee_id": str(assignee_id) if assignee_id else None,
            "webhook_url": webhook_url,
            "due_at": due_at.isoformat() if due_at else None,
            "status": status,
        },
    }


async def _post(
    client: httpx.AsyncClient, event: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        "/internal/events", json=event, headers=headers | {"Idempotency-Key": event["event_id"]}
    )


async def test_the_same_event_twice_creates_one_set_of_jobs(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    event = _event("task.done", owner_id=owner.id)
    first = await _post(client, event, internal_headers)
    second = await _post(client, event, internal_headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["job_ids"] == second.json()["job_ids"]
    assert second.json()["duplicate"] is True
    [job_id] = first.json()["job_ids"]
    job = await job_status(job_id, owner.headers, {"ok", "failed"})
    assert (job["type"], job["kind"], job["status"]) == ("email", "task_done", "ok")
    listed = await client.get(f"/notify/jobs?task_id={event['task']['id']}", headers=owner.headers)
    assert listed.json()["total"] == 1


async def test_task_done_with_webhook_and_assignee(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    receiver: Any,
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    owner, assignee = make_user(), make_user()
    auth_stub.add_user(assignee.id)
    path = f"/ok/task-{owner.id}"
    event = _event(
        "task.done", owner_id=owner.id, assignee_id=assignee.id, webhook_url=receiver.url(path)
    )
    response = await _post(client, event, internal_headers)
    email_id, webhook_id = response.json()["job_ids"]
    email = await job_status(email_id, assignee.headers, {"ok", "failed"})
    webhook = await job_status(webhook_id, owner.headers, {"ok", "failed"})
    assert (email["type"], email["status"]) == ("email", "ok")
    assert (webhook["type"], webhook["status"]) == ("webhook", "ok")
    [hit] = receiver.hits(path)
    assert b'"task.done"' in hit.body
    # The assignee's e-mail job belongs to the assignee; the owner sees it for the task.
    assert (await client.get(f"/notify/jobs/{email_id}", headers=owner.headers)).status_code == 200
    stranger = make_user()
    assert (
        await client.get(f"/notify/jobs/{email_id}", headers=stranger.headers)
    ).status_code == 404


async def test_event_webhook_is_checked_at_delivery(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    receiver: Any,
    settings_override: Callable[..., None],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    settings_override(webhook_allowlist="")
    owner = make_user()
    auth_stub.add_user(owner.id)
    path = f"/ok/refused-{owner.id}"
    event = _event("task.done", owner_id=owner.id, webhook_url=receiver.url(path))
    _, webhook_id = (await _post(client, event, internal_headers)).json()["job_ids"]
    job = await job_status(webhook_id, owner.headers, {"ok", "failed"})
    assert (job["status"], job["attempts"]) == ("failed", 1)  # refused targets are not retried
    assert "non-public" in job["last_error"]
    assert receiver.hits(path) == []


async def test_unknown_recipient_still_sends_the_webhook(
    client: httpx.AsyncClient,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    receiver: Any,
) -> None:
    owner = make_user()  # not known to auth-svc
    event = _event("task.done", owner_id=owner.id, webhook_url=receiver.url("/ok/orphan"))
    response = await _post(client, event, internal_headers)
    assert response.status_code == 202
    assert len(response.json()["job_ids"]) == 1


async def test_auth_svc_down_is_503_and_nothing_is_recorded(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    settings_override: Callable[..., None],
    unused_tcp_port: int,
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    event = _event("task.done", owner_id=owner.id)
    settings_override(auth_url=f"http://127.0.0.1:{unused_tcp_port}")
    down = await _post(client, event, internal_headers)
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    settings_override(auth_url=auth_stub.url)
    retried = await _post(client, event, internal_headers)
    assert retried.status_code == 202  # the relay's retry is processed as the first time
    assert len(retried.json()["job_ids"]) == 1


async def test_events_need_the_internal_token_and_a_matching_key(
    client: httpx.AsyncClient, internal_headers: dict[str, str], make_user: Callable[..., Any]
) -> None:
    event = _event("task.deadline_changed", owner_id=make_user().id)
    no_token = await client.post("/internal/events", json=event)
    wrong_key = await client.post(
        "/internal/events", json=event, headers=internal_headers | {"Idempotency-Key": "other"}
    )
    bad_type = await _post(client, event | {"type": "task.exploded"}, internal_headers)
    assert (no_token.status_code, wrong_key.status_code, bad_type.status_code) == (401, 422, 422)


async def _reminder(task_id: str) -> Any:
    async with database.sessionmaker() as session:
        return await reminders_repo.get_for_task(session, uuid.UUID(task_id))


async def test_deadline_set_moved_and_cleared(
    client: httpx.AsyncClient,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
) -> None:
    owner, assignee = make_user(), make_user()
    task_id = uuid.uuid4()
    due = datetime.now(UTC) + timedelta(days=2)
    base = {"owner_id": owner.id, "assignee_id": assignee.id, "task_id": task_id, "status": "todo"}
    t0 = datetime.now(UTC)

    await _post(
        client,
        _event("task.deadline_changed", due_at=due, occurred_at=t0, **base),
        internal_headers,
    )
    reminder = await _reminder(str(task_id))
    assert reminder.recipient_id == assignee.id
    assert reminder.remind_at == due - timedelta(minutes=60)

    moved = due + timedelta(hours=5)
    await _post(
        client,
        _event(
            "task.deadline_changed", due_at=moved, occurred_at=t0 + timedelta(seconds=2), **base
        ),
        internal_headers,
    )
    assert (await _reminder(str(task_id))).due_at == moved

    # An older event arriving late does not undo the newer one.
    await _post(
        client,
        _event("task.deadline_changed", due_at=due, occurred_at=t0 + timedelta(seconds=1), **base),
        internal_headers,
    )
    assert (await _reminder(str(task_id))).due_at == moved

    await _post(
        client,
        _event("task.deadline_changed", due_at=None, occurred_at=t0 + timedelta(seconds=3), **base),
        internal_headers,
    )
    assert await _reminder(str(task_id)) is None


@pytest.mark.parametrize("event_type", ["task.done", "task.deadline_changed"])
async def test_a_closed_task_drops_its_reminder(
    client: httpx.AsyncClient,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    auth_stub: Any,
    event_type: str,
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    task_id = uuid.uuid4()
    due = datetime.now(UTC) + timedelta(days=1)
    t0 = datetime.now(UTC)
    await _post(
        client,
        _event(
            "task.deadline_changed",
            owner_id=owner.id,
            task_id=task_id,
            due_at=due,
            status="todo",
            occurred_at=t0,
        ),
        internal_headers,
    )
    closing = _event(
        event_type,
        owner_id=owner.id,
        task_id=task_id,
        due_at=due,
        status="canceled" if event_type == "task.deadline_changed" else "done",
        occurred_at=t0 + timedelta(seconds=1),
    )
    assert (await _post(client, closing, internal_headers)).status_code == 202
    assert await _reminder(str(task_id)) is None


async def test_internal_routes_are_served_but_not_published(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    served = await _post(client, _event("task.done", owner_id=owner.id), internal_headers)
    spec = (await client.get("/notify/openapi.json")).json()

    assert served.status_code == 202
    assert [path for path in spec["paths"] if "/internal" in path] == []
    assert {"TaskEvent", "EventAccepted"}.isdisjoint(spec["components"]["schemas"])

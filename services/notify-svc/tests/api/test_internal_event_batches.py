"""`/internal/events/batch`: each event applied once per id, one answer per event, and the
contract with task-svc (the events its outbox produces are accepted as they are)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notify_svc.db.session import database
from notify_svc.models import Job, SentEmail
from notify_svc.repositories import reminders as reminders_repo
from notify_svc.schemas.events import MAX_BATCH_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]

BATCH = "/internal/events/batch"


def _done(owner_id: uuid.UUID, **task: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "task.done",
        "occurred_at": datetime.now(UTC).isoformat(),
        "task": {
            "id": str(uuid.uuid4()),
            "title": "Write the report",
            "owner_id": str(owner_id),
            "status": "done",
            **task,
        },
    }


async def _send(
    client: httpx.AsyncClient, events: list[Any], headers: dict[str, str]
) -> list[dict[str, Any]]:
    # json.dumps escapes a lone surrogate (`\ud800`) as JSON allows; httpx would refuse it.
    response = await client.post(
        BATCH,
        content=json.dumps({"events": events}),
        headers=headers | {"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert len(results) == len(events)
    return results


async def _job_count(**where: Any) -> int:
    async with database.transaction() as session:
        statement = select(func.count()).select_from(Job).filter_by(**where)
        return (await session.execute(statement)).scalar_one()


async def test_a_replayed_batch_creates_nothing_twice(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    events = [_done(owner.id) for _ in range(5)]

    first = await _send(client, events, internal_headers)
    replay = await _send(client, events, internal_headers)

    assert [r["status"] for r in first] == [202] * 5
    assert [r["status"] for r in replay] == [200] * 5
    assert [r["event_id"] for r in replay] == [e["event_id"] for e in events]
    assert [r["job_ids"] for r in replay] == [r["job_ids"] for r in first]
    assert await _job_count(owner_id=owner.id) == 5
    for result in first:
        [job_id] = result["job_ids"]
        job = await job_status(job_id, owner.headers, {"ok", "failed"})
        assert (job["type"], job["status"], job["attempts"]) == ("email", "ok", 1)
    async with database.transaction() as session:
        sent = (await session.execute(select(func.count()).select_from(SentEmail))).scalar_one()
    assert sent == 5  # one e-mail per job, however many messages named it


async def test_an_overlapping_batch_applies_only_the_new_events(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    one, two, three = (_done(owner.id) for _ in range(3))

    earlier = await _send(client, [one, two], internal_headers)
    later = await _send(client, [two, three], internal_headers)

    assert [r["status"] for r in later] == [200, 202]
    assert later[0]["job_ids"] == earlier[1]["job_ids"]
    assert await _job_count(owner_id=owner.id) == 3


async def test_an_event_twice_in_one_batch_is_applied_once(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    event = _done(owner.id)

    results = await _send(client, [event, event], internal_headers)

    assert [r["status"] for r in results] == [202, 200]
    assert results[0]["job_ids"] == results[1]["job_ids"]
    assert await _job_count(owner_id=owner.id) == 1


async def test_malformed_events_are_refused_alone(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    valid = _done(owner.id)
    wrong_type = {**_done(owner.id), "type": "task.exploded"}
    bad_url = _done(owner.id, webhook_url="ftp://example.com/hook")
    surrogate = _done(owner.id, title="\ud800")

    results = await _send(
        client, [wrong_type, valid, 42, bad_url, surrogate, {"event_id": 7}], internal_headers
    )

    assert [r["status"] for r in results] == [422, 202, 422, 422, 422, 422]
    assert [r["event_id"] for r in results] == [
        wrong_type["event_id"],
        valid["event_id"],
        None,
        bad_url["event_id"],
        surrogate["event_id"],
        None,
    ]
    for refused in (results[0], results[2], results[3], results[4], results[5]):
        assert refused["error"]["code"] == "VALIDATION_ERROR"
        assert refused["job_ids"] == []
    [job_id] = results[1]["job_ids"]
    assert (await job_status(job_id, owner.headers, {"ok", "failed"}))["status"] == "ok"
    assert await _job_count(owner_id=owner.id) == 1
    # A refused event was not recorded: sent again once fixed, it is applied.
    fixed = {**wrong_type, "type": "task.done"}
    [again] = await _send(client, [fixed], internal_headers)
    assert again["status"] == 202


async def test_auth_svc_down_leaves_those_events_to_a_retry(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    settings_override: Callable[..., None],
    unused_tcp_port: int,
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    done = _done(owner.id)
    # A closed task's deadline change only drops a reminder: it needs no recipient.
    closed = {**_done(owner.id), "type": "task.deadline_changed"}
    settings_override(auth_url=f"http://127.0.0.1:{unused_tcp_port}")

    down = await _send(client, [done, closed], internal_headers)

    assert [r["status"] for r in down] == [503, 202]
    assert await _job_count(owner_id=owner.id) == 0
    settings_override(auth_url=auth_stub.url)
    retried = await _send(client, [done, closed], internal_headers)
    assert [r["status"] for r in retried] == [202, 200]
    assert len(retried[0]["job_ids"]) == 1


async def test_a_batch_asks_auth_svc_once_per_recipient(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
) -> None:
    owner, assignee = make_user(), make_user()
    auth_stub.add_user(owner.id)
    auth_stub.add_user(assignee.id)
    events = [_done(owner.id) for _ in range(4)]
    events += [_done(owner.id, assignee_id=str(assignee.id)) for _ in range(4)]
    calls_before = auth_stub.calls

    await _send(client, events, internal_headers)
    await _send(client, [_done(owner.id)], internal_headers)  # within the contact cache

    assert auth_stub.calls - calls_before == 2
    assert await _job_count(owner_id=owner.id) == 5
    assert await _job_count(owner_id=assignee.id) == 4


async def test_a_completed_tasks_reminder_is_dropped_in_a_batch(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    task_id = str(uuid.uuid4())
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    deadline = {
        **_done(owner.id, id=task_id, due_at=due, status="todo"),
        "type": "task.deadline_changed",
    }
    [set_up] = await _send(client, [deadline], internal_headers)
    assert set_up["status"] == 202
    async with database.transaction() as session:
        assert await reminders_repo.get_for_task(session, uuid.UUID(task_id)) is not None

    other_task_deadline = {
        **_done(owner.id, due_at=due, status="todo"),
        "type": "task.deadline_changed",
    }
    done = _done(owner.id, id=task_id, due_at=due)
    results = await _send(client, [done, other_task_deadline], internal_headers)

    assert [r["status"] for r in results] == [202, 202]
    async with database.transaction() as session:
        assert await reminders_repo.get_for_task(session, uuid.UUID(task_id)) is None
        other = uuid.UUID(other_task_deadline["task"]["id"])
        assert await reminders_repo.get_for_task(session, other) is not None


async def test_a_batch_needs_the_internal_token_and_a_sane_size(
    client: httpx.AsyncClient, internal_headers: dict[str, str], make_user: Callable[..., Any]
) -> None:
    event = _done(make_user().id)
    unauthenticated = await client.post(BATCH, json={"events": [event]})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "UNAUTHORIZED"
    bodies: list[Any] = [{"events": []}, {"events": [event] * (MAX_BATCH_EVENTS + 1)}]
    for body in [*bodies, {"nope": 1}, [], {"events": "x"}]:
        response = await client.post(BATCH, json=body, headers=internal_headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_task_svc_events_are_accepted_as_produced(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
) -> None:
    """The contract: task-svc's outbox payloads, as its relay sends them, all apply."""
    from task_svc.models import TaskStatus
    from task_svc.services.events import TaskSnapshot, events_for_change

    owner, assignee = make_user(), make_user()
    auth_stub.add_user(owner.id)
    auth_stub.add_user(assignee.id)
    task = TaskSnapshot(
        id=uuid.uuid4(),
        title="Ship the release",
        owner_id=owner.id,
        assignee_id=assignee.id,
        webhook_url=None,
        due_at=datetime.now(UTC) + timedelta(days=1),
        status=TaskStatus.TODO,
    )
    produced = events_for_change(None, task)  # created with a deadline
    produced += events_for_change(task, replace(task, status=TaskStatus.DONE))
    produced += events_for_change(task, None)  # deleted
    assert {e.event_type for e in produced} == {"task.deadline_changed", "task.done"}

    results = await _send(client, [e.payload for e in produced], internal_headers)

    assert [r["status"] for r in results] == [202] * len(produced)
    assert [r["event_id"] for r in results] == [str(e.id) for e in produced]
    assert await _job_count(owner_id=assignee.id, kind="task_done") == 1


async def test_without_the_contact_cache_every_batch_asks_auth_svc(
    client: httpx.AsyncClient,
    auth_stub: Any,
    internal_headers: dict[str, str],
    make_user: Callable[..., Any],
    settings_override: Callable[..., None],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    settings_override(contact_cache_seconds="0")
    calls_before = auth_stub.calls

    await _send(client, [_done(owner.id), _done(owner.id)], internal_headers)
    await _send(client, [_done(owner.id)], internal_headers)

    assert auth_stub.calls - calls_before == 2  # once per batch: nothing kept between

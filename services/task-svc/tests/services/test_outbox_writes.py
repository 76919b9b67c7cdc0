"""Outbox rows are written by the change that causes them, in its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.models import OutboxEvent, Task, TaskStatus
from task_svc.schemas.tasks import TaskUpdate
from task_svc.services import tasks as task_service
from task_svc.services.assignees import UserDirectory
from taskhub_common.auth import Principal, Role

CreateTask = Callable[..., Awaitable[dict[str, Any]]]


async def _events(session: AsyncSession, task_id: str | uuid.UUID) -> list[OutboxEvent]:
    statement = (
        select(OutboxEvent)
        .where(OutboxEvent.task_id == uuid.UUID(str(task_id)))
        .order_by(OutboxEvent.created_at)
    )
    return list((await session.execute(statement)).scalars())


async def test_patch_to_done_writes_one_event_and_done_to_done_none(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    alice, bob = make_user(), make_user()
    task = await create_task(alice, assignee_id=str(bob.id), webhook_url="https://h.example/x")
    url = f"/tasks/{task['id']}"

    await client.patch(url, json={"status": "done"}, headers=bob.headers)
    await client.patch(url, json={"status": "done"}, headers=alice.headers)
    await client.post(
        "/tasks/bulk-status", json={"ids": [task["id"]], "status": "done"}, headers=alice.headers
    )

    events = await _events(session, task["id"])
    assert [event.event_type for event in events] == ["task.done"]
    assert events[0].payload["task"] == {
        "id": task["id"],
        "title": task["title"],
        "owner_id": str(alice.id),
        "assignee_id": str(bob.id),
        "webhook_url": "https://h.example/x",
        "due_at": None,
        "status": "done",
    }
    assert events[0].delivered_at is None
    assert events[0].attempts == 0


async def test_reopening_and_finishing_again_is_a_new_done(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    alice = make_user()
    task = await create_task(alice)
    for status in ("done", "todo", "done"):
        await client.patch(f"/tasks/{task['id']}", json={"status": status}, headers=alice.headers)
    assert [e.event_type for e in await _events(session, task["id"])] == ["task.done"] * 2


async def test_bulk_done_writes_one_event_per_task_entering_done(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    alice = make_user()
    fresh = [await create_task(alice) for _ in range(3)]
    already = await create_task(alice, status="done")
    ids = [task["id"] for task in [*fresh, already]]

    await client.post(
        "/tasks/bulk-status", json={"ids": ids, "status": "done"}, headers=alice.headers
    )

    for task in fresh:
        assert [e.event_type for e in await _events(session, task["id"])] == ["task.done"]
    assert await _events(session, already["id"]) == []


async def test_deadline_events_follow_the_reminder_a_task_implies(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    alice = make_user()
    task = await create_task(alice, due_at="2031-01-01T09:00:00Z")
    url = f"/tasks/{task['id']}"
    await client.patch(url, json={"due_at": "2031-02-01T09:00:00Z"}, headers=alice.headers)
    await client.patch(url, json={"priority": "high"}, headers=alice.headers)  # no event
    await client.patch(url, json={"status": "canceled"}, headers=alice.headers)
    await client.delete(url, headers=alice.headers)

    events = await _events(session, task["id"])
    assert [
        (e.event_type, e.payload["task"]["due_at"], e.payload["task"]["status"]) for e in events
    ] == [
        ("task.deadline_changed", "2031-01-01T09:00:00Z", "todo"),
        ("task.deadline_changed", "2031-02-01T09:00:00Z", "todo"),
        ("task.deadline_changed", "2031-02-01T09:00:00Z", "canceled"),
    ]


async def test_deleting_an_open_task_with_a_deadline_clears_it(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: Callable[..., Any],
    create_task: CreateTask,
) -> None:
    alice = make_user()
    task = await create_task(alice, due_at="2031-01-01T09:00:00Z")
    await client.delete(f"/tasks/{task['id']}", headers=alice.headers)
    last = (await _events(session, task["id"]))[-1]
    assert (last.event_type, last.payload["task"]["due_at"]) == ("task.deadline_changed", None)


async def test_a_rolled_back_change_leaves_no_event(
    session: AsyncSession, users: UserDirectory
) -> None:
    owner = Principal(user_id=uuid.uuid4(), role=Role.USER)
    task = Task(id=uuid.uuid4(), title="t", owner_id=owner.user_id, status=TaskStatus.TODO)
    session.add(task)
    await session.flush()
    task_id = task.id

    savepoint = await session.begin_nested()
    await task_service.update_task(
        session,
        principal=owner,
        task_id=task.id,
        changes=TaskUpdate(status=TaskStatus.DONE),
        users=users,
    )
    assert [e.event_type for e in await _events(session, task.id)] == ["task.done"]
    await savepoint.rollback()

    assert await _events(session, task_id) == []
    await session.refresh(task)
    assert task.status is TaskStatus.TODO

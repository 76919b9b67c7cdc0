"""Administrators see the outbox events notify-svc rejected for good, and requeue them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.models import OutboxEvent
from taskhub_common.auth import Role


async def _parked_event(session: AsyncSession) -> OutboxEvent:
    event = OutboxEvent(
        event_type="task.done",
        task_id=uuid.uuid4(),
        payload={"type": "task.done"},
        attempts=1,
        last_error="HTTP 422",
        parked_at=datetime.now(UTC),
    )
    session.add(event)
    await session.flush()
    return event


async def test_an_administrator_lists_parked_events_with_their_last_error(
    client: httpx.AsyncClient, session: AsyncSession, make_user: Callable[..., Any]
) -> None:
    event = await _parked_event(session)
    admin = make_user(Role.ADMIN)

    response = await client.get("/tasks/outbox/parked", headers=admin.headers)

    assert response.status_code == 200, response.text
    page = response.json()
    listed = {item["id"]: item for item in page["items"]}
    assert listed[str(event.id)]["last_error"] == "HTTP 422"
    assert listed[str(event.id)]["event_type"] == "task.done"
    assert (page["page"], page["limit"]) == (1, 20)
    assert page["total"] >= 1


async def test_users_cannot_see_or_requeue_parked_events(
    client: httpx.AsyncClient, session: AsyncSession, make_user: Callable[..., Any]
) -> None:
    event = await _parked_event(session)
    user = make_user()

    listed = await client.get("/tasks/outbox/parked", headers=user.headers)
    requeued = await client.post(f"/tasks/outbox/parked/{event.id}/requeue", headers=user.headers)

    assert (listed.status_code, requeued.status_code) == (403, 403)
    kept = await session.get(OutboxEvent, event.id, populate_existing=True)
    assert kept is not None
    assert kept.parked_at is not None


async def test_a_requeued_event_is_pending_again_with_fresh_attempts(
    client: httpx.AsyncClient, session: AsyncSession, make_user: Callable[..., Any]
) -> None:
    event = await _parked_event(session)
    admin = make_user(Role.ADMIN)

    response = await client.post(f"/tasks/outbox/parked/{event.id}/requeue", headers=admin.headers)

    assert response.status_code == 204, response.text
    statement = select(OutboxEvent).where(OutboxEvent.id == event.id)
    requeued = (
        await session.execute(statement.execution_options(populate_existing=True))
    ).scalar_one()
    assert (requeued.parked_at, requeued.attempts, requeued.delivered_at) == (None, 0, None)
    again = await client.post(f"/tasks/outbox/parked/{event.id}/requeue", headers=admin.headers)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "NOT_FOUND"

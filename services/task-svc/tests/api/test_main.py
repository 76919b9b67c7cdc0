"""The app's lifespan: the outbox relay runs against committed rows and stops cleanly."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from task_svc import main
from task_svc.core.config import get_settings
from task_svc.db.session import database
from task_svc.models import OutboxEvent, Task, TaskStatus
from task_svc.services.events import TaskSnapshot, events_for_change


@pytest.fixture
async def committed_task_ids(migrated: None) -> AsyncIterator[list[uuid.UUID]]:
    """Ids of tasks a test commits for real; their rows are deleted afterwards."""
    ids: list[uuid.UUID] = []
    yield ids
    async with database.transaction() as session:
        await session.execute(delete(OutboxEvent).where(OutboxEvent.task_id.in_(ids)))
        await session.execute(delete(Task).where(Task.id.in_(ids)))


async def _complete_task(task_ids: list[uuid.UUID]) -> OutboxEvent:
    """Commit a task going to done, with its outbox row, the way PATCH does."""
    task = Task(id=uuid.uuid4(), title="relay me", owner_id=uuid.uuid4(), status=TaskStatus.TODO)
    task_ids.append(task.id)
    before = TaskSnapshot.of(task)
    (event,) = events_for_change(before, replace(before, status=TaskStatus.DONE))
    async with database.transaction() as session:
        session.add(task)
        await session.flush()
        session.add(event)
    return event


async def test_the_relay_forwards_a_committed_event_within_a_fraction_of_a_second(
    loopback: Any, committed_task_ids: list[uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings().model_copy(update={"notify_url": loopback.url})
    monkeypatch.setattr(main, "get_settings", lambda: settings)

    async with main.lifespan(main.app):
        await asyncio.sleep(0.3)  # the relay is idle-polling now
        event = await _complete_task(committed_task_ids)
        committed_at = time.monotonic()
        while not any(r["headers"]["Idempotency-Key"] == str(event.id) for r in loopback.requests):
            assert time.monotonic() - committed_at < 2.0, "the relay did not forward the event"
            await asyncio.sleep(0.01)
        latency = time.monotonic() - committed_at
        await asyncio.sleep(0.1)

    assert latency < 0.5
    async with database.transaction() as session:
        row = (
            await session.execute(select(OutboxEvent).where(OutboxEvent.id == event.id))
        ).scalar_one()
    assert row.delivered_at is not None
    assert row.attempts == 1


async def test_with_the_relay_disabled_nothing_is_sent(
    loopback: Any, committed_task_ids: list[uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings().model_copy(
        update={"notify_url": loopback.url, "outbox_relay_enabled": False}
    )
    monkeypatch.setattr(main, "get_settings", lambda: settings)
    async with main.lifespan(main.app):
        await _complete_task(committed_task_ids)
        await asyncio.sleep(0.4)
    assert loopback.requests == []


async def test_health_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/tasks/healthz")).json() == {"status": "ok"}
    ready = await client.get("/tasks/readyz")
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    spec = (await client.get("/tasks/openapi.json")).json()
    assert "/tasks/bulk-status" in spec["paths"]
    assert "ALL of the tags" in spec["paths"]["/tasks"]["get"]["description"]

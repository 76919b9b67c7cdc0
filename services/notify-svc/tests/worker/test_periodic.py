"""Celery beat's periodic work: reminder scan (exactly once) and the stuck-job sweep."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from notify_svc.core.config import get_settings
from notify_svc.db.session import database
from notify_svc.models import Job, Reminder
from notify_svc.worker.celery_app import app
from notify_svc.worker.tasks import scan_reminders, sweep_stuck_jobs

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]


def test_beat_schedule_runs_both_periodic_tasks() -> None:
    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert schedule == {
        "notify.scan_reminders": get_settings().reminder_scan_seconds,
        "notify.sweep_stuck_jobs": get_settings().stuck_sweep_seconds,
    }


async def _deadline_event(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    task_id: uuid.UUID,
    owner_id: uuid.UUID,
    due_at: datetime,
) -> None:
    event_id = str(uuid.uuid4())
    response = await client.post(
        "/internal/events",
        json={
            "event_id": event_id,
            "type": "task.deadline_changed",
            "occurred_at": datetime.now(UTC).isoformat(),
            "task": {
                "id": str(task_id),
                "title": "Ship it",
                "owner_id": str(owner_id),
                "due_at": due_at.isoformat(),
                "status": "in_progress",
            },
        },
        headers=headers | {"Idempotency-Key": event_id},
    )
    assert response.status_code == 202


async def _reminder_jobs(task_id: uuid.UUID) -> list[Job]:
    async with database.sessionmaker() as session:
        query = select(Job).where(Job.task_id == task_id, Job.kind == "reminder")
        return list((await session.execute(query)).scalars())


async def test_due_reminder_is_sent_once_even_by_concurrent_scans(
    client: httpx.AsyncClient,
    internal_headers: dict[str, str],
    auth_stub: Any,
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    task_id = uuid.uuid4()
    # Due in 30 minutes with a 60 minute lead: the reminder is due now.
    due_at = datetime.now(UTC) + timedelta(minutes=30)
    await _deadline_event(
        client, internal_headers, task_id=task_id, owner_id=owner.id, due_at=due_at
    )

    counts = await asyncio.gather(
        asyncio.to_thread(scan_reminders), asyncio.to_thread(scan_reminders)
    )
    assert sorted(counts) == [0, 1]
    assert await asyncio.to_thread(scan_reminders) == 0
    [job] = await _reminder_jobs(task_id)
    delivered = await job_status(str(job.id), owner.headers, {"ok", "failed"})
    assert delivered["status"] == "ok"

    # Moving the deadline makes the reminder due again: one more, and only one.
    await _deadline_event(
        client,
        internal_headers,
        task_id=task_id,
        owner_id=owner.id,
        due_at=due_at + timedelta(minutes=5),
    )
    assert await asyncio.to_thread(scan_reminders) == 1
    assert len(await _reminder_jobs(task_id)) == 2


async def test_reminder_not_yet_due_waits_and_auth_outage_postpones(
    client: httpx.AsyncClient,
    internal_headers: dict[str, str],
    auth_stub: Any,
    make_user: Callable[..., Any],
    settings_override: Callable[..., None],
    unused_tcp_port: int,
) -> None:
    owner = make_user()
    auth_stub.add_user(owner.id)
    later, soon = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    await _deadline_event(
        client, internal_headers, task_id=later, owner_id=owner.id, due_at=now + timedelta(days=1)
    )
    await _deadline_event(
        client,
        internal_headers,
        task_id=soon,
        owner_id=owner.id,
        due_at=now + timedelta(minutes=10),
    )
    settings_override(auth_url=f"http://127.0.0.1:{unused_tcp_port}")
    assert await asyncio.to_thread(scan_reminders) == 0  # auth-svc down: nothing claimed
    settings_override(auth_url=auth_stub.url)
    assert await asyncio.to_thread(scan_reminders) == 1
    assert await _reminder_jobs(later) == []
    async with database.sessionmaker() as session:
        reminder = (
            await session.execute(select(Reminder).where(Reminder.task_id == soon))
        ).scalar_one()
    assert reminder.sent_at is not None
    assert reminder.job_id is not None


async def test_reminder_for_an_unknown_user_is_dropped(
    client: httpx.AsyncClient, internal_headers: dict[str, str], make_user: Callable[..., Any]
) -> None:
    task_id = uuid.uuid4()
    await _deadline_event(
        client,
        internal_headers,
        task_id=task_id,
        owner_id=make_user().id,
        due_at=datetime.now(UTC) + timedelta(minutes=5),
    )
    assert await asyncio.to_thread(scan_reminders) == 0
    assert await asyncio.to_thread(scan_reminders) == 0
    assert await _reminder_jobs(task_id) == []


async def test_sweep_re_enqueues_stuck_and_overdue_jobs_once(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    alice = make_user()
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"to": "carol@example.com", "subject": "s", "body": "b", "send_at": later}
    stuck = (await client.post("/notify/email", json=body, headers=alice.headers)).json()["id"]
    overdue = (await client.post("/notify/email", json=body, headers=alice.headers)).json()["id"]
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    # As if Redis had lost both messages: one job queued for hours, one never released.
    async with database.transaction() as session:
        await session.execute(
            update(Job)
            .where(Job.id == uuid.UUID(stuck))
            .values(status="queued", updated_at=long_ago)
        )
        await session.execute(
            update(Job).where(Job.id == uuid.UUID(overdue)).values(send_at=long_ago)
        )

    counts = await asyncio.gather(
        asyncio.to_thread(sweep_stuck_jobs), asyncio.to_thread(sweep_stuck_jobs)
    )
    assert sum(counts) == 2  # SKIP LOCKED may split the rows, never repeat them
    for job_id in (stuck, overdue):
        job = await job_status(job_id, alice.headers, {"ok", "failed"})
        assert (job["status"], job["attempts"]) == ("ok", 1)
    assert await asyncio.to_thread(sweep_stuck_jobs) == 0

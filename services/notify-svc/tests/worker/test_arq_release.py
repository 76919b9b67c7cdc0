"""Scheduled jobs: ARQ releases them at send_at into Celery; cancel wins over release."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from arq.worker import create_worker
from sqlalchemy import func, select

from notify_svc.db.session import database
from notify_svc.models import Job, SentEmail
from notify_svc.worker.arq_worker import WorkerSettings, release_job

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]

EMAIL = {"to": "bob@example.com", "subject": "Later", "body": "Now"}


async def _run_arq_until_queue_empty() -> None:
    # burst: runs until ARQ's queue (deferred jobs included) is empty, then returns.
    worker = create_worker(
        cast(Any, WorkerSettings), burst=True, poll_delay=0.05, handle_signals=False
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def _sent_emails() -> int:
    async with database.sessionmaker() as session:
        return int((await session.execute(select(func.count(SentEmail.id)))).scalar_one())


async def test_scheduled_job_is_delivered_at_send_at(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    alice = make_user()
    send_at = datetime.now(UTC) + timedelta(seconds=1.5)
    accepted = await client.post(
        "/notify/email", json=EMAIL | {"send_at": send_at.isoformat()}, headers=alice.headers
    )
    assert accepted.status_code == 202
    assert accepted.json()["status"] == "scheduled"
    await _run_arq_until_queue_empty()
    job = await job_status(accepted.json()["id"], alice.headers, {"ok", "failed"})
    assert job["status"] == "ok"
    async with database.sessionmaker() as session:
        stored = await session.get(Job, job["id"])
    assert stored is not None
    assert stored.delivered_at is not None
    assert stored.delivered_at >= send_at


async def test_canceled_job_is_never_delivered(
    client: httpx.AsyncClient, make_user: Callable[..., Any], wait_for: Any
) -> None:
    alice = make_user()
    send_at = datetime.now(UTC) + timedelta(seconds=1)
    job_id = (
        await client.post(
            "/notify/email", json=EMAIL | {"send_at": send_at.isoformat()}, headers=alice.headers
        )
    ).json()["id"]
    assert (await client.delete(f"/notify/jobs/{job_id}", headers=alice.headers)).status_code == 204
    await _run_arq_until_queue_empty()
    job = (await client.get(f"/notify/jobs/{job_id}", headers=alice.headers)).json()
    assert job["status"] == "canceled"
    assert await _sent_emails() == 0


async def test_release_rechecks_the_status(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    """A cancel that committed before the release wins even if the abort never arrived."""
    alice = make_user()
    job_id = (
        await client.post(
            "/notify/email",
            json=EMAIL | {"send_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
            headers=alice.headers,
        )
    ).json()["id"]
    await client.delete(f"/notify/jobs/{job_id}", headers=alice.headers)
    assert await release_job({}, job_id) == "skipped"


async def test_queued_job_cannot_be_canceled(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    alice = make_user()
    job_id = (await client.post("/notify/email", json=EMAIL, headers=alice.headers)).json()["id"]
    response = await client.delete(f"/notify/jobs/{job_id}", headers=alice.headers)
    assert response.status_code == 409
    assert (await job_status(job_id, alice.headers, {"ok"}))["status"] == "ok"

"""Delivery by the real Celery worker: e-mails, signed webhooks, retries, dead letters."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notify_svc.core.config import get_settings
from notify_svc.core.webhooks import verify_signature
from notify_svc.db.session import database
from notify_svc.models import FailedNotification, SentEmail
from taskhub_common.auth import Role

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]

JobStatus = Callable[..., Awaitable[dict[str, Any]]]


async def _count(model: Any) -> int:
    async with database.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_email_job_reaches_ok_with_one_outbox_row(
    client: httpx.AsyncClient, make_user: Callable[..., Any], job_status: JobStatus
) -> None:
    alice = make_user()
    accepted = await client.post(
        "/notify/email",
        json={"to": "Alice@Example.com", "subject": "Hi", "body": "there"},
        headers=alice.headers,
    )
    assert accepted.json()["status"] == "queued"
    job = await job_status(accepted.json()["id"], alice.headers, {"ok", "failed"})
    assert (job["status"], job["attempts"], job["last_error"]) == ("ok", 1, None)
    async with database.sessionmaker() as session:
        sent = (await session.execute(select(SentEmail))).scalars().all()
    assert [row.subject for row in sent] == ["Hi"]
    assert sent[0].recipient_hash == hashlib.sha256(b"alice@example.com").hexdigest()


async def test_webhook_delivered_once_signed(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: JobStatus,
    receiver: Any,
) -> None:
    alice = make_user()
    path = f"/ok/{alice.id}"
    accepted = await client.post(
        "/notify/webhook",
        json={"url": receiver.url(path), "payload": {"hello": "world", "n": [1, 2]}},
        headers=alice.headers,
    )
    job_id = accepted.json()["id"]
    job = await job_status(job_id, alice.headers, {"ok", "failed"})
    assert job["status"] == "ok"
    [hit] = receiver.hits(path)
    assert json.loads(hit.body) == {"hello": "world", "n": [1, 2]}
    secret = get_settings().webhook_signing_secret.get_secret_value().encode()
    sent = hit.headers["X-TaskHub-Signature"]
    timestamp = int(sent.removeprefix("t=").split(",")[0])
    signed = f"{timestamp}.{job_id}.".encode() + hit.body
    assert sent == f"t={timestamp},v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"
    assert abs(time.time() - timestamp) < 30
    assert verify_signature(secret, sent, job_id, hit.body)
    assert hit.headers["X-TaskHub-Delivery"] == job_id
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["Host"] == receiver.host_port
    # Our trace ids stay inside TaskHub, although outgoing httpx calls are traced.
    assert "traceparent" not in {name.lower() for name in hit.headers}


async def test_failing_receiver_gets_three_attempts_then_one_dead_letter(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: JobStatus,
    receiver: Any,
) -> None:
    alice, admin = make_user(), make_user(Role.ADMIN)
    path = f"/fail/{alice.id}"
    accepted = await client.post(
        "/notify/webhook", json={"url": receiver.url(path), "payload": {}}, headers=alice.headers
    )
    job = await job_status(accepted.json()["id"], alice.headers, {"ok", "failed"})
    assert (job["status"], job["attempts"]) == ("failed", 3)
    assert job["last_error"] == "The receiver answered HTTP 500."
    assert len(receiver.hits(path)) == 3
    dead = (await client.get("/notify/failed", headers=admin.headers)).json()
    assert dead["total"] == 1
    assert dead["items"][0]["job_id"] == job["id"]
    assert dead["items"][0]["attempts"] == 3
    assert await _count(FailedNotification) == 1


async def test_redirect_is_a_failure_and_not_followed(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: JobStatus,
    receiver: Any,
) -> None:
    alice = make_user()
    path = f"/redirect/{alice.id}"
    accepted = await client.post(
        "/notify/webhook", json={"url": receiver.url(path), "payload": {}}, headers=alice.headers
    )
    job = await job_status(accepted.json()["id"], alice.headers, {"ok", "failed"})
    assert job["status"] == "failed"
    assert "redirect" in job["last_error"]
    assert len(receiver.hits(path)) == 3
    assert receiver.hits("/ok") == []  # the Location was never requested


async def test_endless_response_is_capped(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: JobStatus,
    receiver: Any,
) -> None:
    alice = make_user()
    path = f"/huge/{alice.id}"
    accepted = await client.post(
        "/notify/webhook", json={"url": receiver.url(path), "payload": {}}, headers=alice.headers
    )
    # Without the cap the worker would read a gigabyte; with it, one attempt is enough.
    job = await job_status(accepted.json()["id"], alice.headers, {"ok", "failed"}, within=8)
    assert (job["status"], job["attempts"]) == ("ok", 1)

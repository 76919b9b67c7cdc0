"""Fairness between job owners: delivery slots in Redis, a slow receiver on loopback and
real Celery workers: the embedded one plus a prefork worker with two processes, as the
stack runs it (three delivery slots in all)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from notify_svc.core.config import get_settings
from notify_svc.services.slots import DeliverySlots
from notify_svc.worker.dispatch import send_deliveries

pytestmark = pytest.mark.integration

JobStatus = Callable[..., Awaitable[dict[str, Any]]]
SLOW_SECONDS = 3.0
WORKER_START_SECONDS = 30.0


@pytest.fixture
def fair_workers(
    celery_worker: Any, settings_override: Callable[..., None], tmp_path: Path
) -> Iterator[None]:
    """One slot per owner; a prefork worker beside the embedded one.

    The embedded worker alone has a single slot, where fairness cannot show; a thread
    pool is no substitute (kombu's Redis transport loses messages published from its
    threads), and prefork is what the stack runs.
    """
    settings_override(webhook_slots_per_owner="1")
    log = tmp_path / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "notify_svc.worker.celery_app:app", "worker",
        "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
        "--queues", "celery,webhooks",
        "--hostname", f"fair-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    with log.open("wb") as output:
        worker = subprocess.Popen(command, env=dict(os.environ), stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + WORKER_START_SECONDS
        while b" ready." not in log.read_bytes():
            assert worker.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the prefork worker did not start"
            time.sleep(0.1)
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.fixture
async def redis(clean: None) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(os.environ["NOTIFY_REDIS_URL"])
    yield client
    await client.aclose()


def _slots(redis: Redis, per_owner: int = 1, lease_seconds: float = 30.0) -> DeliverySlots:
    return DeliverySlots(redis, per_owner=per_owner, lease_seconds=lease_seconds)


async def test_an_owner_holds_at_most_their_slots(redis: Redis) -> None:
    slots = _slots(redis, per_owner=2)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    taken = [await slots.acquire(alice, job) for job in (first, second, third)]
    again = await slots.acquire(alice, first)  # the same job (a redelivery) keeps its slot
    other_owner = await slots.acquire(bob, third)
    woken = await slots.release(alice, first)
    after_release = await slots.acquire(alice, third)

    assert taken == [True, True, False]
    assert again is True
    assert other_owner is True
    assert woken == [third]
    assert after_release is True


async def test_a_released_slot_wakes_the_oldest_waiting_jobs_once(redis: Redis) -> None:
    slots = _slots(redis, per_owner=1)
    alice = uuid.uuid4()
    holder, *waiting = (uuid.uuid4() for _ in range(4))
    assert await slots.acquire(alice, holder)
    for job in (*waiting, waiting[0]):  # a job that waits twice keeps its place
        assert not await slots.acquire(alice, job)

    woken = [await slots.release(alice, job) for job in (holder, waiting[0], waiting[1])]
    nobody = await slots.release(alice, waiting[2])

    assert woken == [[waiting[0]], [waiting[1]], [waiting[2]]]
    assert nobody == []


async def test_a_slot_whose_holder_died_is_free_after_its_lease(redis: Redis) -> None:
    slots = _slots(redis, lease_seconds=0.3)
    alice = uuid.uuid4()
    assert await slots.acquire(alice, uuid.uuid4())
    assert not await slots.acquire(alice, uuid.uuid4())
    await asyncio.sleep(0.4)
    assert await slots.acquire(alice, uuid.uuid4())


async def test_the_lease_outlasts_a_whole_delivery_attempt() -> None:
    settings = get_settings()
    longest_attempt = settings.webhook_dns_timeout_seconds + settings.webhook_timeout_seconds
    assert settings.webhook_slot_lease_seconds > longest_attempt


async def test_redis_down_lets_deliveries_through(
    caplog: pytest.LogCaptureFixture, closed_redis_url: str
) -> None:
    client: Redis = Redis.from_url(closed_redis_url, socket_connect_timeout=0.5)
    slots = _slots(client)
    owner = uuid.uuid4()
    assert await slots.acquire(owner, uuid.uuid4())
    assert await slots.acquire(owner, uuid.uuid4())
    assert await slots.release(owner, uuid.uuid4()) == []
    await client.aclose()
    assert "delivery slots unavailable" in caplog.messages
    assert "delivery slot not released" in caplog.messages


@pytest.fixture
def closed_redis_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.mark.usefixtures("fair_workers")
async def test_slow_receivers_of_one_user_do_not_hold_another_users_notifications(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: JobStatus,
    receiver: Any,
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    alice, bob = make_user(), make_user()
    receiver.slow_peak = 0
    slow = f"/slow/{SLOW_SECONDS}/{alice.id}"
    alice_jobs = [
        (
            await client.post(
                "/notify/webhook",
                json={"url": receiver.url(slow), "payload": {"n": n}},
                headers=alice.headers,
            )
        ).json()["id"]
        for n in range(4)
    ]
    await wait_for(lambda: _async(len(receiver.hits(slow))), lambda hits: hits >= 1, within=5)

    started = time.monotonic()
    email = await client.post(
        "/notify/email",
        json={"to": "bob@example.com", "subject": "Hi", "body": "there"},
        headers=bob.headers,
    )
    hook = await client.post(
        "/notify/webhook",
        json={"url": receiver.url(f"/ok/{bob.id}"), "payload": {}},
        headers=bob.headers,
    )
    bob_email = await job_status(email.json()["id"], bob.headers, {"ok", "failed"}, within=5)
    bob_hook = await job_status(hook.json()["id"], bob.headers, {"ok", "failed"}, within=5)
    bob_seconds = time.monotonic() - started

    # Bob's notifications went out while Alice's first slow delivery still held its slot.
    assert (bob_email["status"], bob_hook["status"]) == ("ok", "ok")
    assert bob_seconds < SLOW_SECONDS - 0.5, f"Bob waited {bob_seconds:.1f} s"
    assert receiver.slow_peak == 1
    finished = [
        await job_status(job_id, alice.headers, {"ok", "failed"}, within=4 * SLOW_SECONDS + 10)
        for job_id in alice_jobs
    ]
    # Waiting for a slot is not an attempt.
    assert [(job["status"], job["attempts"]) for job in finished] == [("ok", 1)] * 4
    assert receiver.slow_peak == 1


@pytest.mark.usefixtures("celery_worker")
async def test_webhooks_of_task_events_wait_for_their_owners_slot_without_an_attempt(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: JobStatus,
    receiver: Any,
    auth_stub: Any,
    internal_headers: dict[str, str],
    settings_override: Callable[..., None],
    redis: Redis,
) -> None:
    settings_override(webhook_slots_per_owner="1")
    alice = make_user()
    auth_stub.add_user(alice.id)
    holder = uuid.uuid4()
    slots = _slots(redis)
    assert await slots.acquire(alice.id, holder)  # a delivery of hers in flight elsewhere
    path = f"/ok/event/{alice.id}"
    event_id = str(uuid.uuid4())
    event = {
        "event_id": event_id,
        "type": "task.done",
        "occurred_at": datetime.now(UTC).isoformat(),
        "task": {
            "id": str(uuid.uuid4()),
            "title": "Ship it",
            "owner_id": str(alice.id),
            "assignee_id": None,
            "webhook_url": receiver.url(path),
            "due_at": None,
            "status": "done",
        },
    }
    answer = await client.post(
        "/internal/events", json=event, headers=internal_headers | {"Idempotency-Key": event_id}
    )
    jobs = {
        job["type"]: job
        for job in (await client.get("/notify/jobs", headers=alice.headers)).json()["items"]
    }

    email = await job_status(jobs["email"]["id"], alice.headers, {"ok", "failed"}, within=5)
    await asyncio.sleep(1.0)
    waiting = await job_status(jobs["webhook"]["id"], alice.headers, {"queued"})
    # The holder's delivery ends: it hands its slot on, as the worker task does.
    woken = await slots.release(alice.id, holder)
    send_deliveries(woken)
    delivered = await job_status(jobs["webhook"]["id"], alice.headers, {"ok", "failed"}, within=5)

    assert answer.status_code == 202
    assert email["status"] == "ok"  # e-mails take no slot
    assert (waiting["status"], waiting["attempts"]) == ("queued", 0)
    assert [str(job_id) for job_id in woken] == [jobs["webhook"]["id"]]
    assert (delivered["status"], delivered["attempts"]) == ("ok", 1)
    assert len(receiver.hits(path)) == 1


async def _async[T](value: T) -> T:
    return value

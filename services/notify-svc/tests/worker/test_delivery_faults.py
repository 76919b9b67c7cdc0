"""Delivery under faults: rows that cannot be delivered, workers dying mid-request, the
webhook queue of its own.

Rows are inserted directly (as rows written before today's validation would be), and
attempts run through the real service code on the test PostgreSQL, against the loopback
receiver; a worker's death mid-request is the attempt's coroutine cancelled during the
request, so its outcome is never recorded.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from notify_svc.core.config import MAX_DELIVERY_ATTEMPTS, get_settings
from notify_svc.db.session import database
from notify_svc.models import FailedNotification, Job, JobKind, JobStatus, JobType
from notify_svc.services.delivery import (
    INTERRUPTED_ERROR,
    Outcome,
    as_failure,
    attempt_delivery,
)
from notify_svc.services.jobs import add_job, job_values
from notify_svc.worker.dispatch import send_deliveries
from notify_svc.worker.queues import DEFAULT_QUEUE, DELIVER_TASK, WEBHOOK_QUEUE

pytestmark = pytest.mark.integration

Wait = Callable[..., Awaitable[Any]]

# Payloads no attempt can ever deliver, whatever the receiver: (type, payload, error class).
UNDELIVERABLE = {
    "invalid IDNA host": (JobType.WEBHOOK, {"url": "http://xn--a.example/", "payload": {}}),
    "IDNA A-label": (JobType.WEBHOOK, {"url": "http://xn--zz.example/hook", "payload": {}}),
    "no URL": (JobType.WEBHOOK, {"payload": {"n": 1}}),
    "no payload": (JobType.WEBHOOK, {"url": "http://127.0.0.1:9/hook"}),
    "payload not an object": (JobType.WEBHOOK, ["http://127.0.0.1:9/hook"]),
    "e-mail without recipient": (JobType.EMAIL, {"subject": "Hi", "body": "there"}),
    "e-mail payload not an object": (JobType.EMAIL, "alice@example.com"),
}


async def _insert(job_type: JobType, payload: Any) -> uuid.UUID:
    async with database.transaction() as session:
        values = job_values(
            job_type=job_type, kind=JobKind.MANUAL, payload=payload, owner_id=uuid.uuid4()
        )
        return (await add_job(session, values)).id


async def _row(job_id: uuid.UUID) -> Job:
    async with database.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def _dead_letters(job_id: uuid.UUID) -> int:
    statement = select(func.count()).where(FailedNotification.job_id == job_id)
    async with database.sessionmaker() as session:
        return int((await session.execute(statement)).scalar_one())


# --- a delivery that cannot even be prepared --------------------------------------------


@pytest.mark.usefixtures("clean", "celery_worker")
@pytest.mark.parametrize("case", list(UNDELIVERABLE))
async def test_an_undeliverable_row_fails_at_its_first_attempt_with_a_dead_letter(
    case: str, wait_for: Wait
) -> None:
    job_type, payload = UNDELIVERABLE[case]
    job_id = await _insert(job_type, payload)

    send_deliveries([job_id])
    job = await wait_for(lambda: _row(job_id), lambda row: row.status != JobStatus.QUEUED)

    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.last_error.startswith("The delivery could not be prepared (")
    assert job.attempt_started_at is None
    assert await _dead_letters(job_id) == 1


@pytest.mark.usefixtures("clean", "behaviour_env")
async def test_every_message_for_a_failed_row_leaves_it_alone() -> None:
    # The sweep's and Celery's messages come again: the counter never moves past the end.
    job_id = await _insert(JobType.WEBHOOK, {"url": "http://xn--a.example/", "payload": {}})
    first = await attempt_delivery(database, job_id=job_id)
    again = [await attempt_delivery(database, job_id=job_id) for _ in range(3)]
    assert first.outcome is Outcome.FAILED
    assert [result.outcome for result in again] == [Outcome.SKIPPED] * 3
    assert (await _row(job_id)).attempts == 1
    assert await _dead_letters(job_id) == 1


def test_an_unexpected_error_is_a_retried_attempt_and_data_errors_are_permanent() -> None:
    assert not as_failure(RuntimeError("resolver oddity")).permanent
    assert not as_failure(OSError("no route")).permanent
    for error in (KeyError("url"), TypeError("list"), ValueError("port"), UnicodeError("idna")):
        failure = as_failure(error)
        assert failure.permanent
        assert failure.message == f"The delivery could not be prepared ({type(error).__name__})."


# --- a worker dying during the request ---------------------------------------------------


async def _row_lock_free(job_id: uuid.UUID) -> tuple[int, datetime | None]:
    """The row's committed attempts and attempt start, taking its lock without waiting."""
    async with database.transaction() as session:
        row = (
            await session.execute(
                text(
                    "SELECT attempts, attempt_started_at FROM jobs WHERE id = :id FOR UPDATE NOWAIT"
                ),
                {"id": job_id},
            )
        ).one()
        return int(row.attempts), row.attempt_started_at


async def _age_attempt(job_id: uuid.UUID, seconds: float) -> None:
    """As if the attempt in flight had started `seconds` ago."""
    started = datetime.now(UTC) - timedelta(seconds=seconds)
    async with database.transaction() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(attempt_started_at=started)
        )


@pytest.mark.usefixtures("clean")
async def test_an_attempt_is_committed_before_its_request_and_holds_no_row_lock(
    receiver: Any, wait_for: Wait
) -> None:
    path = f"/slow/1.5/{uuid.uuid4()}"
    job_id = await _insert(JobType.WEBHOOK, {"url": receiver.url(path), "payload": {"n": 1}})
    attempt = asyncio.create_task(attempt_delivery(database, job_id=job_id))
    await wait_for(lambda: _async(len(receiver.hits(path))), lambda hits: hits == 1, within=5)

    # Mid-request: the attempt is committed and the row is free for anyone to lock.
    attempts, started = await _row_lock_free(job_id)
    # The worker dies here: the attempt's outcome is never recorded.
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt

    assert attempts == 1
    assert started is not None
    job = await _row(job_id)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)


@pytest.mark.usefixtures("clean")
async def test_a_cut_short_attempt_is_left_alone_for_its_lease_then_sent_again_same_id(
    receiver: Any, wait_for: Wait
) -> None:
    path = f"/slow/0.5/{uuid.uuid4()}"
    job_id = await _insert(JobType.WEBHOOK, {"url": receiver.url(path), "payload": {"n": 2}})
    attempt = asyncio.create_task(attempt_delivery(database, job_id=job_id))
    await wait_for(lambda: _async(len(receiver.hits(path))), lambda hits: hits == 1, within=5)
    attempt.cancel()
    with pytest.raises(asyncio.CancelledError):
        await attempt

    # A redelivered message while the attempt may still be in flight: nothing is sent.
    during = await attempt_delivery(database, job_id=job_id)
    await _age_attempt(job_id, get_settings().attempt_lease_seconds + 1)
    after = await attempt_delivery(database, job_id=job_id)

    assert during.outcome is Outcome.IN_FLIGHT
    assert after.outcome is Outcome.DELIVERED
    job = await _row(job_id)
    assert (job.status, job.attempts, job.attempt_started_at) == (JobStatus.OK, 2, None)
    hits = receiver.hits(path)
    assert len(hits) == 2
    assert {hit.headers["X-TaskHub-Delivery"] for hit in hits} == {str(job_id)}


@pytest.mark.usefixtures("clean", "behaviour_env")
async def test_a_last_attempt_cut_short_fails_the_job_without_sending_again(
    receiver: Any,
) -> None:
    path = f"/ok/{uuid.uuid4()}"
    job_id = await _insert(JobType.WEBHOOK, {"url": receiver.url(path), "payload": {}})
    async with database.transaction() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(attempts=MAX_DELIVERY_ATTEMPTS)
        )
    await _age_attempt(job_id, get_settings().attempt_lease_seconds + 1)

    result = await attempt_delivery(database, job_id=job_id)

    assert result.outcome is Outcome.FAILED
    job = await _row(job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, MAX_DELIVERY_ATTEMPTS)
    assert job.last_error == INTERRUPTED_ERROR
    assert await _dead_letters(job_id) == 1
    assert receiver.hits(path) == []


@pytest.mark.usefixtures("clean")
async def test_the_outcome_of_a_superseded_attempt_is_dropped(
    receiver: Any, wait_for: Wait
) -> None:
    path = f"/slow/0.5/{uuid.uuid4()}"
    job_id = await _insert(JobType.WEBHOOK, {"url": receiver.url(path), "payload": {}})
    attempt = asyncio.create_task(attempt_delivery(database, job_id=job_id))
    await wait_for(lambda: _async(len(receiver.hits(path))), lambda hits: hits == 1, within=5)
    # Another worker took the job over meanwhile (its lease had run out): attempt 2.
    async with database.transaction() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(attempts=2))

    result = await attempt

    assert result.outcome is Outcome.SKIPPED
    job = await _row(job_id)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 2)


# --- webhooks have their own queue -------------------------------------------------------


@pytest.mark.usefixtures("clean")
async def test_the_email_worker_hands_a_webhook_on_without_an_attempt(receiver: Any) -> None:
    path = f"/ok/{uuid.uuid4()}"
    job_id = await _insert(JobType.WEBHOOK, {"url": receiver.url(path), "payload": {}})
    result = await attempt_delivery(database, job_id=job_id, forward_webhooks=True)
    assert (result.outcome, result.job_type) == (Outcome.FORWARDED, JobType.WEBHOOK)
    assert (await _row(job_id)).attempts == 0
    assert receiver.hits(path) == []


def test_webhook_deliveries_are_published_to_their_own_queue() -> None:
    from celery import signals

    published: list[tuple[str, str]] = []

    def seen(headers: dict[str, Any] | None = None, routing_key: str = "", **_: Any) -> None:
        published.append(((headers or {}).get("task", ""), routing_key))

    signals.before_task_publish.connect(seen, weak=False)
    try:
        send_deliveries([uuid.uuid4()], webhooks=True)
        send_deliveries([uuid.uuid4()])
    finally:
        signals.before_task_publish.disconnect(seen)
    assert published == [(DELIVER_TASK, WEBHOOK_QUEUE), (DELIVER_TASK, DEFAULT_QUEUE)]


@pytest.mark.usefixtures("clean", "celery_worker")
async def test_a_webhook_retry_goes_back_to_the_webhook_queue(
    receiver: Any, wait_for: Wait
) -> None:
    from celery import signals

    published: list[tuple[str, str]] = []

    def seen(body: Any = None, routing_key: str = "", **_: Any) -> None:
        args = body[0] if isinstance(body, (list, tuple)) and body else []
        published.append((str(args[0]) if args else "", routing_key))

    job_id = await _insert(
        JobType.WEBHOOK, {"url": receiver.url(f"/fail/{uuid.uuid4()}"), "payload": {}}
    )
    signals.before_task_publish.connect(seen, weak=False)
    try:
        send_deliveries([job_id], webhooks=True)
        job = await wait_for(lambda: _row(job_id), lambda row: row.status != JobStatus.QUEUED)
    finally:
        signals.before_task_publish.disconnect(seen)

    assert (job.status, job.attempts) == (JobStatus.FAILED, MAX_DELIVERY_ATTEMPTS)
    mine = [queue for published_id, queue in published if published_id == str(job_id)]
    assert mine == [WEBHOOK_QUEUE] * MAX_DELIVERY_ATTEMPTS


def test_a_worker_started_without_queues_takes_no_webhook() -> None:
    # What the e-mail worker consumes when started as documented (no --queues).
    code = "from notify_svc.worker.celery_app import app; print(sorted(app.amqp.queues))"
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert output.strip().splitlines()[-1] == str([DEFAULT_QUEUE])


async def _async[T](value: T) -> T:
    return value

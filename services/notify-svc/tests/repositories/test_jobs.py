"""notify_svc.repositories.jobs against the real test PostgreSQL (each test rolled back, on
empty tables)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.models import FailedNotification, Job, JobKind, JobStatus, JobType, SentEmail
from notify_svc.repositories import jobs as job_repository

from .conftest import Commit

pytestmark = pytest.mark.integration

OtherTransaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _values(**overrides: Any) -> dict[str, Any]:
    """The columns of a queued manual e-mail job of a new owner, with `overrides`."""
    return {
        "type": JobType.EMAIL.value,
        "kind": JobKind.MANUAL.value,
        "status": JobStatus.QUEUED.value,
        "payload": {"to": "someone@example.com"},
        "owner_id": uuid.uuid4(),
        **overrides,
    }


async def _job(session: AsyncSession, **overrides: Any) -> Job:
    job = await job_repository.insert_job(session, _values(**overrides))
    assert job is not None
    return job


async def _reload(session: AsyncSession, job_id: uuid.UUID) -> Job:
    statement = select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    return (await session.scalars(statement)).one()


async def _spread_creation(session: AsyncSession, jobs: list[Job]) -> None:
    """One transaction has one now(): give the jobs creation times a minute apart."""
    for minutes, job in enumerate(jobs):
        await session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(created_at=func.now() + timedelta(minutes=minutes))
        )


# --- inserting and reading -------------------------------------------------------------------


async def test_insert_job_returns_the_stored_job(session: AsyncSession) -> None:
    job = await _job(session, idempotency_key="k-1")
    assert (job.type, job.status, job.attempts, job.idempotency_key) == (
        "email",
        "queued",
        0,
        "k-1",
    )
    assert job.created_at is not None


async def test_insert_job_with_a_used_key_of_the_same_owner_is_none(
    session: AsyncSession,
) -> None:
    first = await _job(session, idempotency_key="same")
    again = await job_repository.insert_job(
        session, _values(owner_id=first.owner_id, idempotency_key="same")
    )
    assert again is None
    # Another owner may use the same key.
    assert await job_repository.insert_job(session, _values(idempotency_key="same")) is not None


async def test_insert_jobs_stores_every_row(session: AsyncSession) -> None:
    rows = [_values(id=uuid.uuid4(), event_id="e-1") for _ in range(3)]
    await job_repository.insert_jobs(session, rows)
    await job_repository.insert_jobs(session, [])  # nothing to insert: no statement
    stored = await session.scalars(select(Job.id).where(Job.event_id == "e-1"))
    assert set(stored) == {row["id"] for row in rows}


async def test_get_by_idempotency_key_is_per_owner(session: AsyncSession) -> None:
    job = await _job(session, idempotency_key="k")
    found = await job_repository.get_by_idempotency_key(session, owner_id=job.owner_id, key="k")
    assert found is not None
    assert found.id == job.id
    assert (
        await job_repository.get_by_idempotency_key(session, owner_id=uuid.uuid4(), key="k") is None
    )
    assert (
        await job_repository.get_by_idempotency_key(session, owner_id=job.owner_id, key="other")
        is None
    )


async def test_get_job_finds_a_job_and_none_for_an_unknown_id(session: AsyncSession) -> None:
    job = await _job(session)
    found = await job_repository.get_job(session, job.id)
    assert found is not None
    assert found.id == job.id
    assert await job_repository.get_job(session, uuid.uuid4()) is None


async def test_list_jobs_shows_owned_and_task_owners_jobs_newest_first(
    session: AsyncSession,
) -> None:
    user = uuid.uuid4()
    own = await _job(session, owner_id=user)
    of_my_task = await _job(session, kind=JobKind.TASK_DONE.value, task_owner_id=user)
    await _job(session)  # someone else's
    await _spread_creation(session, [own, of_my_task])
    jobs, total = await job_repository.list_jobs(
        session, user_id=user, status=None, kind=None, task_id=None, offset=0, limit=10
    )
    assert total == 2
    assert [job.id for job in jobs] == [of_my_task.id, own.id]


async def test_list_jobs_filters_and_pages(session: AsyncSession) -> None:
    user, task_id = uuid.uuid4(), uuid.uuid4()
    jobs = [
        await _job(session, owner_id=user, task_id=task_id),
        await _job(session, owner_id=user, task_id=task_id, status=JobStatus.OK.value),
        await _job(session, owner_id=user, kind=JobKind.REMINDER.value),
        await _job(session, owner_id=user, task_id=task_id),
    ]
    await _spread_creation(session, jobs)

    async def ids(**filters: Any) -> tuple[list[uuid.UUID], int]:
        query = {"status": None, "kind": None, "task_id": None, "offset": 0, "limit": 10}
        found, total = await job_repository.list_jobs(session, user_id=user, **(query | filters))
        return [job.id for job in found], total

    assert await ids(status=JobStatus.OK) == ([jobs[1].id], 1)
    assert await ids(kind="reminder") == ([jobs[2].id], 1)
    assert await ids(task_id=task_id) == ([jobs[3].id, jobs[1].id, jobs[0].id], 3)
    assert await ids(task_id=task_id, offset=1, limit=1) == ([jobs[1].id], 3)


# --- state changes ---------------------------------------------------------------------------


async def test_cancel_scheduled_cancels_a_scheduled_job_once(session: AsyncSession) -> None:
    job = await _job(session, status=JobStatus.SCHEDULED.value)
    canceled = await job_repository.cancel_scheduled(session, job.id)
    assert canceled is not None
    assert canceled.status == "canceled"
    assert await job_repository.cancel_scheduled(session, job.id) is None


async def test_cancel_scheduled_leaves_a_queued_or_unknown_job(session: AsyncSession) -> None:
    queued = await _job(session)
    assert await job_repository.cancel_scheduled(session, queued.id) is None
    assert await job_repository.cancel_scheduled(session, uuid.uuid4()) is None
    assert (await _reload(session, queued.id)).status == "queued"


async def test_release_scheduled_queues_a_scheduled_job_once(session: AsyncSession) -> None:
    job = await _job(session, status=JobStatus.SCHEDULED.value)
    assert await job_repository.release_scheduled(session, job.id) is True
    assert (await _reload(session, job.id)).status == "queued"
    assert await job_repository.release_scheduled(session, job.id) is False


async def test_release_scheduled_of_a_canceled_job_is_false(session: AsyncSession) -> None:
    job = await _job(session, status=JobStatus.CANCELED.value)
    assert await job_repository.release_scheduled(session, job.id) is False
    assert (await _reload(session, job.id)).status == "canceled"


async def test_mark_sent_records_one_successful_attempt_each(session: AsyncSession) -> None:
    first = await _job(session, last_error="timeout", attempts=1)
    second, untouched = await _job(session), await _job(session)
    await job_repository.mark_sent(session, [first.id, second.id])
    await job_repository.mark_sent(session, [])  # nothing sent: no statement
    for job, attempts in ((first, 2), (second, 1)):
        stored = await _reload(session, job.id)
        assert (stored.status, stored.attempts, stored.last_error) == ("ok", attempts, None)
        assert stored.delivered_at is not None
    assert (await _reload(session, untouched.id)).status == "queued"


async def test_delivery_key_reads_owner_type_and_status(session: AsyncSession) -> None:
    job = await _job(session, type=JobType.WEBHOOK.value)
    assert await job_repository.delivery_key(session, job.id) == (job.owner_id, "webhook", "queued")
    assert await job_repository.delivery_key(session, uuid.uuid4()) is None


async def test_job_ids_for_event_are_in_creation_order(session: AsyncSession) -> None:
    jobs = [await _job(session, event_id="ev") for _ in range(3)]
    await _job(session, event_id="other")
    await _spread_creation(session, list(reversed(jobs)))
    assert await job_repository.job_ids_for_event(session, "ev") == [
        job.id for job in reversed(jobs)
    ]
    assert await job_repository.job_ids_for_event(session, "none") == []


async def test_job_ids_for_events_names_every_asked_event(session: AsyncSession) -> None:
    first = [await _job(session, event_id="a") for _ in range(2)]
    second = await _job(session, event_id="b")
    await _spread_creation(session, [*first, second])
    found = await job_repository.job_ids_for_events(session, ["a", "b", "none"])
    assert found == {"a": [job.id for job in first], "b": [second.id], "none": []}


# --- dead letters and the e-mail outbox -------------------------------------------------------


async def test_add_dead_letter_once_per_job(session: AsyncSession) -> None:
    job = await _job(session, status=JobStatus.FAILED.value, attempts=5, last_error="500")
    await job_repository.add_dead_letter(session, job)
    await job_repository.add_dead_letter(session, job)
    letters, total = await job_repository.list_dead_letters(session, offset=0, limit=10)
    assert total == 1
    assert [(letter.job_id, letter.attempts, letter.last_error) for letter in letters] == [
        (job.id, 5, "500")
    ]


async def test_list_dead_letters_is_newest_first_and_pages(session: AsyncSession) -> None:
    jobs = [await _job(session, status=JobStatus.FAILED.value) for _ in range(3)]
    for job in jobs:
        await job_repository.add_dead_letter(session, job)
    for minutes, job in enumerate(jobs):
        await session.execute(
            update(FailedNotification)
            .where(FailedNotification.job_id == job.id)
            .values(failed_at=func.now() + timedelta(minutes=minutes))
        )
    letters, total = await job_repository.list_dead_letters(session, offset=0, limit=10)
    assert total == 3
    assert [letter.job_id for letter in letters] == [job.id for job in reversed(jobs)]
    (middle,), _ = await job_repository.list_dead_letters(session, offset=1, limit=1)
    assert middle.job_id == jobs[1].id


async def test_add_sent_email_once_per_job(session: AsyncSession) -> None:
    job = await _job(session)
    await job_repository.add_sent_email(session, job_id=job.id, recipient_hash="h", subject="Hi")
    await job_repository.add_sent_email(session, job_id=job.id, recipient_hash="x", subject="2")
    stored = (await session.scalars(select(SentEmail).where(SentEmail.job_id == job.id))).all()
    assert [(row.recipient_hash, row.subject) for row in stored] == [("h", "Hi")]


async def test_add_sent_emails_stores_a_batch_and_skips_recorded_jobs(
    session: AsyncSession,
) -> None:
    recorded, first, second = await _job(session), await _job(session), await _job(session)
    await job_repository.add_sent_email(
        session, job_id=recorded.id, recipient_hash="old", subject="old"
    )
    await job_repository.add_sent_emails(
        session,
        [
            {"job_id": job.id, "recipient_hash": "new", "subject": "new"}
            for job in (recorded, first, second)
        ],
    )
    await job_repository.add_sent_emails(session, [])  # nothing sent: no statement
    rows = (await session.scalars(select(SentEmail))).all()
    assert {(row.job_id, row.subject) for row in rows} == {
        (recorded.id, "old"),
        (first.id, "new"),
        (second.id, "new"),
    }


# --- locks and claims, seen from two connections (so the jobs are committed) ------------------


def _committed_job(**overrides: Any) -> Job:
    return Job(id=uuid.uuid4(), **_values(**overrides))


async def test_lock_for_delivery_skips_a_job_another_delivery_holds(
    committed: Commit, other_transaction: OtherTransaction
) -> None:
    job = _committed_job()
    await committed(job)
    async with other_transaction() as first, other_transaction() as second:
        held = await job_repository.lock_for_delivery(first, job.id)
        assert held is not None
        assert held.id == job.id
        assert await job_repository.lock_for_delivery(second, job.id) is None
        assert await job_repository.lock_for_delivery(second, uuid.uuid4()) is None


async def test_lock_queued_takes_the_free_queued_jobs_in_id_order(
    committed: Commit, other_transaction: OtherTransaction
) -> None:
    held, free, other_free = _committed_job(), _committed_job(), _committed_job()
    scheduled = _committed_job(status=JobStatus.SCHEDULED.value)
    await committed(held, free, other_free, scheduled)
    asked = [held.id, free.id, other_free.id, scheduled.id]
    async with other_transaction() as first, other_transaction() as second:
        assert await job_repository.lock_for_delivery(first, held.id) is not None
        locked = await job_repository.lock_queued(second, asked)
        assert [job.id for job in locked] == sorted([free.id, other_free.id])


async def test_lock_to_record_waits_for_the_holder_instead_of_skipping(
    committed: Commit, other_transaction: OtherTransaction
) -> None:
    job = _committed_job()
    await committed(job)
    async with other_transaction() as first, other_transaction() as second:
        assert await job_repository.lock_for_delivery(first, job.id) is not None
        await second.execute(select(func.set_config("lock_timeout", "200ms", True)))
        with pytest.raises(DBAPIError, match="lock timeout"):
            await job_repository.lock_to_record(second, job.id)
    async with other_transaction() as alone:
        recorded = await job_repository.lock_to_record(alone, job.id)
        assert recorded is not None
        assert recorded.id == job.id
        assert await job_repository.lock_to_record(alone, uuid.uuid4()) is None


async def test_touch_stuck_queued_claims_old_queued_jobs_not_held_elsewhere(
    committed: Commit, other_transaction: OtherTransaction
) -> None:
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)
    stuck, held = _committed_job(updated_at=long_ago), _committed_job(updated_at=long_ago)
    fresh = _committed_job()
    done = _committed_job(status=JobStatus.OK.value, updated_at=long_ago)
    await committed(stuck, held, fresh, done)
    older_than = datetime.now(UTC) - timedelta(minutes=5)
    async with other_transaction() as first, other_transaction() as sweep:
        assert await job_repository.lock_for_delivery(first, held.id) is not None
        assert await job_repository.touch_stuck_queued(sweep, older_than=older_than) == [stuck.id]
        # Touched: the next sweep leaves it alone.
        assert await job_repository.touch_stuck_queued(sweep, older_than=older_than) == []


async def test_release_overdue_scheduled_queues_overdue_jobs_not_held_elsewhere(
    committed: Commit, other_transaction: OtherTransaction
) -> None:
    now = datetime.now(UTC)
    scheduled = JobStatus.SCHEDULED.value
    overdue = _committed_job(status=scheduled, send_at=now - timedelta(minutes=10))
    held = _committed_job(status=scheduled, send_at=now - timedelta(minutes=10))
    future = _committed_job(status=scheduled, send_at=now + timedelta(hours=1))
    await committed(overdue, held, future)
    async with other_transaction() as first, other_transaction() as sweep:
        assert await job_repository.lock_for_delivery(first, held.id) is not None
        released = await job_repository.release_overdue_scheduled(sweep, due_before=now)
        assert released == [overdue.id]
        assert (await _reload(sweep, overdue.id)).status == "queued"
        assert (await _reload(sweep, future.id)).status == "scheduled"

"""E-mails delivered several to a message: the same guarantees as one job per message."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from notify_svc.db.session import database
from notify_svc.models import Job, JobKind, JobStatus, JobType, SentEmail
from notify_svc.repositories import jobs as jobs_repo
from notify_svc.services.delivery import deliver_emails
from notify_svc.services.jobs import job_values

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean")]


def _email(owner_id: uuid.UUID, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    values = job_values(
        job_type=JobType.EMAIL,
        kind=JobKind.TASK_DONE,
        payload=payload or {"to": "a@example.com", "subject": "Done", "body": "b"},
        owner_id=owner_id,
    )
    return {"id": uuid.uuid4(), **values}


async def _insert(*rows: dict[str, Any]) -> list[uuid.UUID]:
    async with database.transaction() as session:
        await jobs_repo.insert_jobs(session, list(rows))
    return [row["id"] for row in rows]


async def _jobs(ids: list[uuid.UUID]) -> dict[uuid.UUID, Job]:
    async with database.sessionmaker() as session:
        found = (await session.execute(select(Job).where(Job.id.in_(ids)))).scalars()
        return {job.id: job for job in found}


async def _sent(ids: list[uuid.UUID]) -> int:
    async with database.sessionmaker() as session:
        statement = select(func.count()).select_from(SentEmail).where(SentEmail.job_id.in_(ids))
        return (await session.execute(statement)).scalar_one()


async def test_a_batch_delivers_each_email_once_and_hands_back_the_rest() -> None:
    owner = uuid.uuid4()
    good = await _insert(*(_email(owner) for _ in range(3)))
    (unusable,) = await _insert(_email(owner, {"subject": "no address"}))
    webhook = {**_email(owner), "type": JobType.WEBHOOK.value}
    (hook,) = await _insert(webhook)
    ids = [*good, unusable, hook]

    result = await deliver_emails(database, ids)

    assert sorted(result.delivered) == sorted(good)
    assert sorted(result.left) == sorted([unusable, hook])
    jobs = await _jobs(ids)
    assert [(jobs[i].status, jobs[i].attempts) for i in good] == [(JobStatus.OK, 1)] * 3
    assert all(jobs[i].delivered_at is not None for i in good)
    # What the batch could not deliver is untouched: the one-job path judges it.
    assert [(jobs[i].status, jobs[i].attempts) for i in (unusable, hook)] == [
        (JobStatus.QUEUED, 0)
    ] * 2
    assert await _sent(ids) == 3

    again = await deliver_emails(database, ids)  # a redelivered message
    assert (again.delivered, sorted(again.left)) == ([], sorted([unusable, hook]))
    assert await _sent(ids) == 3
    assert [(await _jobs(good))[i].attempts for i in good] == [1, 1, 1]


async def test_a_job_another_delivery_holds_is_left_to_it() -> None:
    owner = uuid.uuid4()
    held, free = await _insert(_email(owner), _email(owner))
    async with database.transaction() as session:
        assert [job.id for job in await jobs_repo.lock_queued(session, [held])] == [held]

        result = await deliver_emails(database, [held, free])  # while the lock is held

    assert (result.delivered, result.left) == ([free], [])
    jobs = await _jobs([held, free])
    assert (jobs[held].status, jobs[free].status) == (JobStatus.QUEUED, JobStatus.OK)

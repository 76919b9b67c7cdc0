"""One delivery attempt of one job, in short transactions of its own.

A webhook attempt is three steps: (1) lock the row, count the attempt and mark it in
flight (`attempt_started_at`), commit; (2) prepare and send the request with no
transaction open and no row lock held; (3) lock the row again and record the outcome.
So an attempt is counted even when its worker dies during the request, and a slow
receiver never holds a row lock. Another message for the same job (a redelivery, the
sweep) finds the attempt in flight and leaves it alone until the attempt lease has
passed (the worker died): then it starts the next attempt, or fails the job when that
was the last one. Once `ok` is committed every later message is a no-op. The
at-least-once edge: a webhook the receiver accepted just before its worker died is sent
again by the next attempt, with the same `X-TaskHub-Delivery` id; receivers deduplicate
on it. An e-mail (emulated, no network) is one transaction: its outbox row commits with
`ok`.

Whatever goes wrong while preparing a delivery (a URL or payload that cannot be used, a
secret, a resolver oddity) is a counted attempt: data that can never work fails the job
at once with a dead letter, anything else is retried like a refused request.

A webhook is sent only while its owner holds one of their delivery slots
(`services/slots.py`). Without a free slot the job is `BUSY`: no attempt is counted, its
row is never locked, and it joins the owner's waiting line until a delivery of the same
owner ends and hands its slot on (`DeliveryResult.woken`). So one user's slow receivers
cannot take every worker, and a backlog of theirs costs nothing while it waits.
"""

from __future__ import annotations

import hashlib
import logging
import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.core.config import MAX_DELIVERY_ATTEMPTS, Settings, get_settings
from notify_svc.core.ssrf import normalise_allowlist
from notify_svc.core.webhooks import WebhookFailed, WebhookLimits, post_webhook
from notify_svc.models import Job, JobStatus, JobType
from notify_svc.repositories import jobs as jobs_repo
from notify_svc.services.slots import DeliverySlots
from taskhub_common.db import Database

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    # The owner's delivery slots are all taken: it waits to be woken, no attempt counted.
    BUSY = "busy"
    # Another worker's attempt is in flight: its worker records the outcome.
    IN_FLIGHT = "in_flight"
    # A webhook reached the e-mail worker: the caller hands it to the webhook queue.
    FORWARDED = "forwarded"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Outcome
    attempts: int = 0
    job_type: str | None = None
    # Jobs of the same owner taken off their waiting line: enqueue them after the commit.
    woken: tuple[uuid.UUID, ...] = ()


def retry_countdown(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: exponential in `attempts`, capped, half jittered.

    Computed here rather than by Celery's `retry_backoff`, whose factor is a whole number
    of seconds (tests use sub-second bases).
    """
    delay = min(
        settings.retry_backoff_seconds * float(2 ** max(attempts - 1, 0)),
        settings.retry_backoff_max_seconds,
    )
    # "Equal jitter": never less than half the delay, so retries still back off.
    return delay / 2 + (rng or random.SystemRandom()).uniform(0, delay / 2)


def recipient_hash(address: str) -> str:
    """A stable pseudonym for an address, for logs and the outbox (no raw address)."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


# Errors of the job's own data: no retry can make them work.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError, UnicodeError)
INTERRUPTED_ERROR = "The delivery attempt was interrupted before its outcome was recorded."


def as_failure(exc: Exception) -> WebhookFailed:
    """Any error of an attempt as a delivery failure (its class name only: no data echoed)."""
    if isinstance(exc, WebhookFailed):
        return exc
    return WebhookFailed(
        f"The delivery could not be prepared ({type(exc).__name__}).",
        permanent=isinstance(exc, PERMANENT_ERRORS),
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    """What step (2) needs of a job, read under the row lock of step (1)."""

    job_id: uuid.UUID
    number: int
    payload: Any


def _email_row(job: Job) -> dict[str, Any]:
    """The outbox row of an e-mail job; raises on a payload that cannot be sent."""
    return {
        "job_id": job.id,
        "recipient_hash": recipient_hash(str(job.payload["to"])),
        "subject": str(job.payload["subject"]),
    }


async def _send_email(session: AsyncSession, job: Job) -> None:
    # The emulated e-mail backend: the outbox row commits with the job's `ok`.
    row = _email_row(job)
    await jobs_repo.add_sent_email(session, **row)
    logger.info(
        "e-mail sent",
        extra={"job_id": str(job.id), "recipient": row["recipient_hash"][:16], "kind": job.kind},
    )


async def _send_webhook(attempt: Attempt, settings: Settings) -> None:
    limits = WebhookLimits(
        allowlist=normalise_allowlist(settings.webhook_allowlist),
        timeout_seconds=settings.webhook_timeout_seconds,
        dns_timeout_seconds=settings.webhook_dns_timeout_seconds,
        max_response_bytes=settings.webhook_max_response_bytes,
    )
    status = await post_webhook(
        url=str(attempt.payload["url"]),
        payload=attempt.payload["payload"],
        # The job id: the same on every attempt, so receivers can deduplicate.
        delivery_id=str(attempt.job_id),
        secret=settings.webhook_signing_secret.get_secret_value().encode(),
        limits=limits,
    )
    logger.info("webhook delivered", extra={"job_id": str(attempt.job_id), "status": status})


async def attempt_delivery(
    database: Database,
    *,
    job_id: uuid.UUID,
    slots: DeliverySlots | None = None,
    forward_webhooks: bool = False,
) -> DeliveryResult:
    """Deliver a queued job once; record attempts, the error, and `ok`/`failed` on the row.

    With `slots`, a webhook is sent only in a slot of its owner (`BUSY` otherwise). With
    `forward_webhooks`, a webhook is not sent here at all (`FORWARDED`).
    """
    async with database.transaction() as session:
        key = await jobs_repo.delivery_key(session, job_id)
    if key is None or key[2] != JobStatus.QUEUED:
        return DeliveryResult(Outcome.SKIPPED)
    owner_id, job_type = key[0], key[1]
    if job_type != JobType.WEBHOOK:
        return await _email_attempt(database, job_id)
    if forward_webhooks:
        return DeliveryResult(Outcome.FORWARDED, job_type=job_type)
    if slots is None:
        return await _webhook_attempt(database, job_id)
    # The slot before the row lock: a waiting job never holds its row, so the delivery
    # that wakes it can never find it locked.
    if not await slots.acquire(owner_id, job_id):
        return DeliveryResult(Outcome.BUSY, job_type=JobType.WEBHOOK.value)
    try:
        result = await _webhook_attempt(database, job_id)
    finally:
        woken = await slots.release(owner_id, job_id)
    return replace(result, woken=tuple(woken))


async def _email_attempt(database: Database, job_id: uuid.UUID) -> DeliveryResult:
    async with database.transaction() as session:
        job = await jobs_repo.lock_for_delivery(session, job_id)
        if job is None or job.status != JobStatus.QUEUED:
            return DeliveryResult(Outcome.SKIPPED)
        job.attempts += 1
        try:
            # A savepoint: a failed send leaves the attempt and its error to record.
            async with session.begin_nested():
                await _send_email(session, job)
        except Exception as exc:
            return await _record_failure(session, job, as_failure(exc))
        return _record_ok(job)


@dataclass(frozen=True, slots=True)
class EmailBatchResult:
    delivered: list[uuid.UUID]
    # Jobs the batch did not deliver that need the one-job path (a webhook, an e-mail
    # whose payload could not be used): it counts the attempt, retries or fails them.
    left: list[uuid.UUID]


async def deliver_emails(database: Database, job_ids: list[uuid.UUID]) -> EmailBatchResult:
    """Deliver many queued e-mails in one transaction: the same as one `_email_attempt`
    each (row locked, attempt counted, outbox row and `ok` committed together), in four
    statements whatever their number. Jobs no longer queued, or locked by another
    delivery, are left to it; the others not deliverable here are returned in `left`.
    """
    async with database.transaction() as session:
        jobs = await jobs_repo.lock_queued(session, job_ids)
        rows: list[dict[str, Any]] = []
        left: list[uuid.UUID] = []
        for job in jobs:
            try:
                if job.type != JobType.EMAIL:
                    raise TypeError(job.type)
                rows.append(_email_row(job))
            except Exception:
                left.append(job.id)
        await jobs_repo.add_sent_emails(session, rows)
        delivered = [row["job_id"] for row in rows]
        await jobs_repo.mark_sent(session, delivered)
    by_id = {job.id: job for job in jobs}
    for row in rows:
        logger.info(
            "e-mail sent",
            extra={
                "job_id": str(row["job_id"]),
                "recipient": row["recipient_hash"][:16],
                "kind": by_id[row["job_id"]].kind,
            },
        )
    return EmailBatchResult(delivered=delivered, left=left)


async def _webhook_attempt(database: Database, job_id: uuid.UUID) -> DeliveryResult:
    settings = get_settings()
    async with database.transaction() as session:
        started = await _start_attempt(session, job_id, settings)
    if not isinstance(started, Attempt):
        return started
    # (2) No transaction open: a worker dying here has its attempt counted already.
    failure: WebhookFailed | None = None
    try:
        await _send_webhook(started, settings)
    except Exception as exc:
        failure = as_failure(exc)
    async with database.transaction() as session:
        job = await jobs_repo.lock_to_record(session, job_id)
        if job is None or job.status != JobStatus.QUEUED or job.attempts != started.number:
            # The lease ran out and a later attempt took over: it records the outcome.
            logger.warning(
                "outcome of a superseded attempt dropped",
                extra={"job_id": str(job_id), "attempt": started.number},
            )
            return DeliveryResult(Outcome.SKIPPED)
        job.attempt_started_at = None
        if failure is not None:
            return await _record_failure(session, job, failure)
        return _record_ok(job)


async def _start_attempt(
    session: AsyncSession, job_id: uuid.UUID, settings: Settings
) -> Attempt | DeliveryResult:
    job = await jobs_repo.lock_for_delivery(session, job_id)
    if job is None or job.status != JobStatus.QUEUED:
        return DeliveryResult(Outcome.SKIPPED)
    now = datetime.now(UTC)
    if job.attempt_started_at is not None:
        if now - job.attempt_started_at < timedelta(seconds=settings.attempt_lease_seconds):
            return DeliveryResult(Outcome.IN_FLIGHT, job_type=job.type)
        # That attempt's worker died before recording its outcome: it counted all the same.
        logger.warning(
            "delivery attempt interrupted", extra={"job_id": str(job.id), "attempt": job.attempts}
        )
        job.last_error = INTERRUPTED_ERROR
        job.attempt_started_at = None
        if job.attempts >= MAX_DELIVERY_ATTEMPTS:
            return await _record_failure(session, job, WebhookFailed(INTERRUPTED_ERROR))
    job.attempts += 1
    job.attempt_started_at = now
    return Attempt(job_id=job.id, number=job.attempts, payload=job.payload)


async def _record_failure(
    session: AsyncSession, job: Job, failure: WebhookFailed
) -> DeliveryResult:
    job.last_error = failure.message
    if failure.permanent or job.attempts >= MAX_DELIVERY_ATTEMPTS:
        job.status = JobStatus.FAILED
        await session.flush()
        await jobs_repo.add_dead_letter(session, job)
        logger.warning(
            "delivery failed for good", extra={"job_id": str(job.id), "attempts": job.attempts}
        )
        return DeliveryResult(Outcome.FAILED, job.attempts, job.type)
    logger.info("delivery attempt failed", extra={"job_id": str(job.id), "attempt": job.attempts})
    return DeliveryResult(Outcome.RETRY, job.attempts, job.type)


def _record_ok(job: Job) -> DeliveryResult:
    job.status = JobStatus.OK
    job.last_error = None
    job.delivered_at = datetime.now(UTC)
    return DeliveryResult(Outcome.DELIVERED, job.attempts, job.type)

"""One delivery attempt of one job, inside the caller's transaction (the Celery task's).

The job row stays locked from the status check to the commit that records the outcome,
so two messages for one job (a redelivery, a sweep) never deliver it concurrently, and
once `ok` is committed every later message is a no-op. The remaining at-least-once edge:
a webhook the receiver accepted just before the worker died or the commit failed is
sent again by the redelivered message; receivers deduplicate on `X-TaskHub-Delivery`.

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
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.core.config import MAX_DELIVERY_ATTEMPTS, Settings, get_settings
from notify_svc.core.ssrf import normalise_allowlist
from notify_svc.core.webhooks import WebhookFailed, WebhookLimits, post_webhook
from notify_svc.models import Job, JobStatus, JobType
from notify_svc.repositories import jobs as jobs_repo
from notify_svc.services.slots import DeliverySlots

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    # The owner's delivery slots are all taken: it waits to be woken, no attempt counted.
    BUSY = "busy"


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


async def _send_email(session: AsyncSession, job: Job) -> None:
    # The emulated e-mail backend: the outbox row commits with the job's `ok`.
    digest = recipient_hash(str(job.payload["to"]))
    await jobs_repo.add_sent_email(
        session, job_id=job.id, recipient_hash=digest, subject=str(job.payload["subject"])
    )
    logger.info(
        "e-mail sent", extra={"job_id": str(job.id), "recipient": digest[:16], "kind": job.kind}
    )


async def _send_webhook(job: Job, settings: Settings) -> None:
    limits = WebhookLimits(
        allowlist=normalise_allowlist(settings.webhook_allowlist),
        timeout_seconds=settings.webhook_timeout_seconds,
        dns_timeout_seconds=settings.webhook_dns_timeout_seconds,
        max_response_bytes=settings.webhook_max_response_bytes,
    )
    status = await post_webhook(
        url=str(job.payload["url"]),
        payload=job.payload["payload"],
        delivery_id=str(job.id),
        secret=settings.webhook_signing_secret.get_secret_value().encode(),
        limits=limits,
    )
    logger.info("webhook delivered", extra={"job_id": str(job.id), "status": status})


async def attempt_delivery(
    session: AsyncSession, *, job_id: uuid.UUID, slots: DeliverySlots | None = None
) -> DeliveryResult:
    """Deliver a queued job once; record attempts, the error, and `ok`/`failed` on the row.

    With `slots`, a webhook is sent only in a slot of its owner (`BUSY` otherwise).
    """
    key = await jobs_repo.delivery_key(session, job_id) if slots is not None else None
    if slots is None or key is None or key[1] != JobType.WEBHOOK or key[2] != JobStatus.QUEUED:
        return await _locked_attempt(session, job_id)
    owner_id = key[0]
    # The slot before the row lock: a waiting job never holds its row, so the delivery
    # that wakes it can never find it locked.
    if not await slots.acquire(owner_id, job_id):
        return DeliveryResult(Outcome.BUSY, job_type=JobType.WEBHOOK.value)
    try:
        result = await _locked_attempt(session, job_id)
    finally:
        woken = await slots.release(owner_id, job_id)
    return replace(result, woken=tuple(woken))


async def _locked_attempt(session: AsyncSession, job_id: uuid.UUID) -> DeliveryResult:
    job = await jobs_repo.lock_for_delivery(session, job_id)
    if job is None or job.status != JobStatus.QUEUED:
        return DeliveryResult(Outcome.SKIPPED)
    return await _attempt(session, job)


async def _attempt(session: AsyncSession, job: Job) -> DeliveryResult:
    settings = get_settings()
    job.attempts += 1
    try:
        if job.type == JobType.EMAIL:
            await _send_email(session, job)
        else:
            await _send_webhook(job, settings)
    except WebhookFailed as exc:
        job.last_error = exc.message
        if exc.permanent or job.attempts >= MAX_DELIVERY_ATTEMPTS:
            job.status = JobStatus.FAILED
            await session.flush()
            await jobs_repo.add_dead_letter(session, job)
            logger.warning(
                "delivery failed for good", extra={"job_id": str(job.id), "attempts": job.attempts}
            )
            return DeliveryResult(Outcome.FAILED, job.attempts, job.type)
        logger.info(
            "delivery attempt failed", extra={"job_id": str(job.id), "attempt": job.attempts}
        )
        return DeliveryResult(Outcome.RETRY, job.attempts, job.type)
    job.status = JobStatus.OK
    job.last_error = None
    job.delivered_at = datetime.now(UTC)
    return DeliveryResult(Outcome.DELIVERED, job.attempts, job.type)

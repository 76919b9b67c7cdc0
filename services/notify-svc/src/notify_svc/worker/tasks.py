"""Celery tasks: deliver one job, scan due reminders, re-enqueue stuck jobs.

Each task is a thin sync wrapper: it runs the shared async service code on the worker
runtime, in transactions that commit before any follow-up message is published.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from celery import Task

from notify_svc.core.config import MAX_DELIVERY_ATTEMPTS, get_settings
from notify_svc.core.metrics import DEAD_LETTERS, NOTIFY_JOBS
from notify_svc.services import jobs as jobs_service
from notify_svc.services import reminders as reminders_service
from notify_svc.services.delivery import (
    DeliveryResult,
    Outcome,
    attempt_delivery,
    deliver_emails,
    retry_countdown,
)
from notify_svc.services.slots import DeliverySlots
from notify_svc.worker.celery_app import app
from notify_svc.worker.dispatch import send_deliveries
from notify_svc.worker.queues import (
    DEFAULT_QUEUE,
    DELIVER_TASK,
    SCAN_REMINDERS_TASK,
    SWEEP_TASK,
    WEBHOOK_QUEUE,
)
from notify_svc.worker.runtime import runtime, transaction
from taskhub_common.db import Database

logger = logging.getLogger(__name__)


async def _deliver(
    database: Database, job_id: uuid.UUID, *, forward_webhooks: bool
) -> DeliveryResult:
    settings = get_settings()
    slots = DeliverySlots(
        runtime.redis(),
        per_owner=settings.webhook_slots_per_owner,
        lease_seconds=settings.webhook_slot_lease_seconds,
    )
    return await attempt_delivery(
        database, job_id=job_id, slots=slots, forward_webhooks=forward_webhooks
    )


@app.task(
    bind=True,
    name=DELIVER_TASK,
    max_retries=MAX_DELIVERY_ATTEMPTS - 1,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_job(self: Task[Any, Any], job_id: str, *more_job_ids: str) -> str:
    """Deliver the job; retried with backoff until it is `ok` or `failed`.

    From the default queue (the e-mail worker) a webhook is only handed on to the
    webhook queue; from the webhook queue it is sent. Retries go back to the queue the
    message came from. A message naming several jobs (the e-mails of a batch of task
    events) delivers them together; whatever that cannot deliver gets a message of its own.
    """
    if more_job_ids:
        return _run_email_batch([uuid.UUID(one) for one in (job_id, *more_job_ids)])
    delivery_info = self.request.delivery_info or {}
    on_webhook_queue = delivery_info.get("routing_key") == WEBHOOK_QUEUE
    return _run_delivery(self, job_id, forward_webhooks=not on_webhook_queue)


def _run_delivery(task: Task[Any, Any], job_id: str, *, forward_webhooks: bool) -> str:
    result = runtime.run(
        lambda database: _deliver(database, uuid.UUID(job_id), forward_webhooks=forward_webhooks)
    )
    if result.outcome is Outcome.FORWARDED:
        send_deliveries([uuid.UUID(job_id)], webhooks=True)
        return result.outcome.value
    if result.job_type is not None and result.outcome is Outcome.DELIVERED:
        NOTIFY_JOBS.labels(result.job_type, "ok").inc()
    if result.job_type is not None and result.outcome is Outcome.FAILED:
        NOTIFY_JOBS.labels(result.job_type, "failed").inc()
        DEAD_LETTERS.inc()
    # The owner's waiting webhooks get the slot this delivery gave back.
    send_deliveries(result.woken, webhooks=True)
    if result.outcome is Outcome.RETRY:
        # The row's attempt count, not Celery's, decides: it survives lost messages.
        # Back to the queue it came from, said explicitly rather than left to Celery.
        queue = DEFAULT_QUEUE if forward_webhooks else WEBHOOK_QUEUE
        raise task.retry(countdown=retry_countdown(result.attempts, get_settings()), queue=queue)
    # BUSY: the job is in its owner's waiting line; the delivery holding the slot wakes it.
    return result.outcome.value


def _run_email_batch(job_ids: list[uuid.UUID]) -> str:
    result = runtime.run(lambda database: deliver_emails(database, job_ids))
    if result.delivered:
        NOTIFY_JOBS.labels("email", "ok").inc(len(result.delivered))
    send_deliveries(result.left)
    return Outcome.DELIVERED.value


async def _scan(database: Database) -> list[uuid.UUID]:
    async with transaction(database) as session:
        return await reminders_service.send_due_reminders(session, now=datetime.now(UTC))


@app.task(name=SCAN_REMINDERS_TASK)
def scan_reminders() -> int:
    """Beat: one e-mail job per due reminder (committed), then enqueue their delivery."""
    job_ids = runtime.run(_scan)
    send_deliveries(job_ids)
    if job_ids:
        logger.info("reminders sent", extra={"count": len(job_ids)})
    return len(job_ids)


async def _sweep(database: Database) -> list[uuid.UUID]:
    async with transaction(database) as session:
        return await jobs_service.claim_stuck_jobs(
            session, stuck_seconds=get_settings().stuck_job_seconds
        )


@app.task(name=SWEEP_TASK)
def sweep_stuck_jobs() -> int:
    """Beat: re-enqueue jobs whose message was lost; delivery is idempotent per job."""
    job_ids = runtime.run(_sweep)
    send_deliveries(job_ids)
    if job_ids:
        logger.warning("stuck jobs re-enqueued", extra={"count": len(job_ids)})
    return len(job_ids)

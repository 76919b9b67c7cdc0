"""Hand committed jobs to the queues: Celery for delivery, ARQ for a later release (the
producers of the messages the workers consume; the API and the workers both call them).

Called only after the job's transaction committed (a worker must find the row). A failed
hand-off is logged, not raised: the job is in PostgreSQL and the periodic sweep enqueues
it again, so Redis being down delays a notification but never loses it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.jobs import Job as ArqJob
from celery import Celery

from notify_svc.core.config import get_settings
from notify_svc.worker.queues import DEFAULT_QUEUE, DELIVER_TASK, RELEASE_FUNCTION, WEBHOOK_QUEUE
from taskhub_common.tracing import inject_trace_context

logger = logging.getLogger(__name__)

# E-mails of one batch of task events per delivery message: small enough that both
# e-mail worker processes share a batch, large enough to save most per-message work.
EMAILS_PER_MESSAGE = 20


def arq_serialize(value: dict[str, Any]) -> bytes:
    # JSON, not ARQ's default pickle: nothing read from Redis can execute code.
    return orjson.dumps(value)


def arq_deserialize(raw: bytes) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(raw)
    return value


def arq_redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().arq_redis_url)


def celery_producer() -> Celery:
    """The Celery app this process publishes with, built on first use: importing the API
    does not build it (nor read its broker settings)."""
    from notify_svc.worker.celery_app import app

    return app


def send_deliveries(job_ids: Iterable[uuid.UUID], *, webhooks: bool = False) -> None:
    """Publish one Celery delivery message per job (blocking: call it from a thread).

    `webhooks=True` when every job is known to be a webhook: straight to the webhook
    queue. Otherwise to the default queue, whose worker delivers e-mails and forwards
    webhooks to theirs (one row read each), so a caller holding only ids is still right.
    """
    send_batch(job_ids if not webhooks else [], job_ids if webhooks else [])


def send_batch(
    emails: Iterable[uuid.UUID], webhooks: Iterable[uuid.UUID], *, per_message: int = 1
) -> None:
    """Publish the messages of many jobs over one broker connection (blocking).

    One producer for the lot: no connection taken from and given back to the pool per
    message. With `per_message` > 1, the default queue's jobs go `per_message` to a
    message (a worker delivers such e-mails in one transaction); a webhook always has a
    message of its own (each is its own request, under its owner's slot).
    """
    app = celery_producer()
    ids = [str(job_id) for job_id in emails]
    with app.producer_or_acquire() as producer:
        for start in range(0, len(ids), per_message):
            chunk = ids[start : start + per_message]
            app.send_task(DELIVER_TASK, args=chunk, queue=DEFAULT_QUEUE, producer=producer)
        for job_id in webhooks:
            app.send_task(DELIVER_TASK, args=[str(job_id)], queue=WEBHOOK_QUEUE, producer=producer)


async def enqueue_deliveries(job_ids: list[uuid.UUID], *, webhooks: bool = False) -> None:
    """One message per job (callers that may hold webhooks among e-mails)."""
    if not job_ids:
        return
    send = functools.partial(send_deliveries, job_ids, webhooks=webhooks)
    try:
        await asyncio.to_thread(send)
    except Exception as exc:  # the sweep re-enqueues whatever did not get through
        logger.warning(
            "delivery enqueue failed; the sweep will retry",
            extra={"jobs": len(job_ids), "error": type(exc).__name__},
        )


async def enqueue_batch(emails: list[uuid.UUID], webhooks: list[uuid.UUID]) -> None:
    """Hand committed jobs to Celery in one thread hop: e-mails, several to a message,
    to the default queue, webhooks straight to theirs."""
    if not emails and not webhooks:
        return
    send = functools.partial(send_batch, emails, webhooks, per_message=EMAILS_PER_MESSAGE)
    try:
        await asyncio.to_thread(send)
    except Exception as exc:  # the sweep re-enqueues whatever did not get through
        logger.warning(
            "delivery enqueue failed; the sweep will retry",
            extra={"jobs": len(emails) + len(webhooks), "error": type(exc).__name__},
        )


class ArqPool:
    """The API process's connection to ARQ's Redis, opened on first use."""

    def __init__(self) -> None:
        self._pool: ArqRedis | None = None

    async def get(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(
                arq_redis_settings(),
                job_serializer=arq_serialize,
                job_deserializer=arq_deserialize,
            )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


arq_pool = ArqPool()


async def schedule_release(job_id: uuid.UUID, send_at: datetime) -> None:
    """Defer `release_job(job_id)` until `send_at`; the job id is the ARQ job id (unique)."""
    try:
        pool = await arq_pool.get()
        await pool.enqueue_job(
            RELEASE_FUNCTION,
            str(job_id),
            _job_id=str(job_id),
            _defer_until=send_at,
            # ARQ has no tracing of its own: the release continues this request's trace.
            trace_context=inject_trace_context(),
        )
    except Exception as exc:
        logger.warning(
            "release scheduling failed; the sweep will release the job",
            extra={"job_id": str(job_id), "error": type(exc).__name__},
        )


async def abort_release(job_id: uuid.UUID) -> None:
    """Best effort: the release re-checks the job's status, so a missed abort is harmless."""
    try:
        pool = await arq_pool.get()
        job = ArqJob(str(job_id), pool, _deserializer=arq_deserialize)
        await job.abort(timeout=0, poll_delay=0.01)
    except TimeoutError:
        pass  # the abort is recorded; we do not wait for the worker to act on it
    except Exception as exc:
        logger.warning(
            "release abort failed", extra={"job_id": str(job_id), "error": type(exc).__name__}
        )


async def dispatch_new_job(
    job_id: uuid.UUID, send_at: datetime | None, scheduled: bool, *, webhook: bool = False
) -> None:
    if scheduled and send_at is not None:
        await schedule_release(job_id, send_at)
    else:
        await enqueue_deliveries([job_id], webhooks=webhook)

"""The ARQ worker: releases scheduled jobs at their `send_at` into Celery delivery.

Run: `arq notify_svc.worker.arq_worker.WorkerSettings` (health: `arq --check ...`).

Redis going away does not stop it: every Redis command of the worker (its connection at
start included) waits and reconnects with a capped backoff, logging (JSON) when Redis
goes and when it is back, instead of raising out of arq's poll loop. The deferred jobs
live in Redis, so those that fell due during the outage are picked up at the first poll
after Redis returns (at most `RECONNECT_MAX_SECONDS` later).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from arq import Retry
from arq.connections import RedisSettings
from arq.worker import func
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

from notify_svc.core.config import get_settings
from notify_svc.core.metrics import ARQ_JOBS, start_metrics_server
from notify_svc.db.session import database
from notify_svc.services import jobs as jobs_service
from notify_svc.worker.celery_app import app as celery_app
from notify_svc.worker.dispatch import (
    arq_deserialize,
    arq_redis_settings,
    arq_serialize,
    enqueue_deliveries,
)
from notify_svc.worker.queues import RELEASE_FUNCTION
from notify_svc.worker.tracing import start_worker_tracing
from taskhub_common.logging import JsonFormatter, configure_logging
from taskhub_common.tracing import continue_trace, flush_traces

logger = logging.getLogger(__name__)

# A release that cannot reach PostgreSQL is tried again this often, this many times; the
# sweep releases whatever is still overdue after that.
RELEASE_RETRY_SECONDS = 5
RELEASE_MAX_TRIES = 10
RELEASE_OUTCOMES = ("released", "skipped", "retry")
# Redis unreachable: try again after 0.1 s, doubling up to this; a warning the first
# time and every `RECONNECT_LOG_EVERY` failures of one command after that.
RECONNECT_MAX_SECONDS = 1.0
RECONNECT_LOG_EVERY = 30

T = TypeVar("T")


class ReconnectForever(RedisRetry):
    """redis-py's retry policy, never giving up on a lost Redis, and saying so."""

    def __init__(self) -> None:
        super().__init__(
            ExponentialBackoff(cap=RECONNECT_MAX_SECONDS, base=0.05),
            retries=-1,
            # OSError: a refused connection surfaces as one inside `connect`.
            supported_errors=(RedisConnectionError, RedisTimeoutError, OSError),  # type: ignore[arg-type]
        )

    async def call_with_retry(
        self, do: Callable[[], Awaitable[T]], fail: Callable[[RedisError], Any]
    ) -> T:
        failures = 0

        async def failed(error: RedisError) -> None:
            nonlocal failures
            failures += 1
            if failures == 1 or failures % RECONNECT_LOG_EVERY == 0:
                logger.warning(
                    "redis unreachable, reconnecting",
                    extra={"error": type(error).__name__, "failures": failures},
                )
            await fail(error)

        result = await super().call_with_retry(do, failed)
        if failures:
            logger.info("redis reachable again", extra={"failures": failures})
        return result


def worker_redis_settings(dsn: str | None = None) -> RedisSettings:
    """ARQ's Redis for the worker: every command waits out an outage (`ReconnectForever`)."""
    return dataclasses.replace(
        RedisSettings.from_dsn(dsn) if dsn else arq_redis_settings(),
        retry=ReconnectForever(),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, OSError],
    )


async def release_job(
    ctx: dict[str, Any], job_id: str, trace_context: dict[str, str] | None = None
) -> str:
    """scheduled -> queued, then hand to Celery; a job canceled first stays canceled.

    `trace_context` is the `traceparent` of the request that scheduled the job: the
    release and the delivery it enqueues continue that trace.
    """
    with continue_trace(f"arq {RELEASE_FUNCTION}", trace_context):
        return await _release(job_id)


async def _release(job_id: str) -> str:
    try:
        async with database.transaction() as session:
            released = await jobs_service.release_scheduled_job(session, job_id=uuid.UUID(job_id))
    except (DBAPIError, OSError) as exc:
        ARQ_JOBS.labels(RELEASE_FUNCTION, "retry").inc()
        logger.warning("release postponed", extra={"job_id": job_id, "error": type(exc).__name__})
        raise Retry(defer=RELEASE_RETRY_SECONDS) from exc
    if not released:
        ARQ_JOBS.labels(RELEASE_FUNCTION, "skipped").inc()
        return "skipped"
    await enqueue_deliveries([uuid.UUID(job_id)])
    ARQ_JOBS.labels(RELEASE_FUNCTION, "released").inc()
    return "released"


async def startup(ctx: dict[str, Any]) -> None:
    # The arq command configured logging before importing us: take the root logger back.
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level)
    start_worker_tracing(celery_app, database.engine)
    for outcome in RELEASE_OUTCOMES:  # exported at 0 from the start (see celery_app)
        ARQ_JOBS.labels(RELEASE_FUNCTION, outcome)
    try:
        start_metrics_server(settings.arq_metrics_port, address=settings.metrics_address)
    except OSError as exc:
        logger.error("metrics server not started", extra={"error": str(exc)})


async def shutdown(ctx: dict[str, Any]) -> None:
    flush_traces()
    await database.dispose()


# For `arq --custom-log-dict notify_svc.worker.arq_worker.LOG_CONFIG`: the lines arq writes
# before `startup` runs ("Starting worker ...") are JSON too.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter, "service": get_settings().service_name}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        }
    },
    "root": {"handlers": ["stdout"], "level": get_settings().log_level.upper()},
}


class WorkerSettings:
    """Read by `arq` (and by tests, through `arq.worker.create_worker`)."""

    functions: ClassVar[list[Any]] = [
        func(release_job, name=RELEASE_FUNCTION, max_tries=RELEASE_MAX_TRIES)
    ]
    redis_settings = worker_redis_settings()
    job_serializer = staticmethod(arq_serialize)
    job_deserializer = staticmethod(arq_deserialize)
    allow_abort_jobs = True
    # `arq --check` reads the health key; it must be refreshed well within the probe period.
    health_check_interval = 10
    keep_result = 3600
    on_startup = startup
    on_shutdown = shutdown

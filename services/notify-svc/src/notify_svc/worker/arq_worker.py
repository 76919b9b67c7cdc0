"""The ARQ worker: releases scheduled jobs at their `send_at` into Celery delivery.

Run: `arq notify_svc.worker.arq_worker.WorkerSettings` (health: `arq --check ...`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, ClassVar

from arq import Retry
from arq.worker import func
from sqlalchemy.exc import DBAPIError

from notify_svc.core.config import get_settings
from notify_svc.core.metrics import ARQ_JOBS, start_metrics_server
from notify_svc.db.session import database
from notify_svc.services import jobs as jobs_service
from notify_svc.services.dispatch import (
    RELEASE_FUNCTION,
    arq_deserialize,
    arq_redis_settings,
    arq_serialize,
    enqueue_deliveries,
)
from taskhub_common.logging import configure_logging

logger = logging.getLogger(__name__)

# A release that cannot reach PostgreSQL is tried again this often, this many times; the
# sweep releases whatever is still overdue after that.
RELEASE_RETRY_SECONDS = 5
RELEASE_MAX_TRIES = 10


async def release_job(ctx: dict[str, Any], job_id: str) -> str:
    """scheduled -> queued, then hand to Celery; a job canceled first stays canceled."""
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
    try:
        start_metrics_server(settings.arq_metrics_port, address=settings.metrics_address)
    except OSError as exc:
        logger.error("metrics server not started", extra={"error": str(exc)})


async def shutdown(ctx: dict[str, Any]) -> None:
    await database.dispose()


class WorkerSettings:
    """Read by `arq` (and by tests, through `arq.worker.create_worker`)."""

    functions: ClassVar[list[Any]] = [
        func(release_job, name=RELEASE_FUNCTION, max_tries=RELEASE_MAX_TRIES)
    ]
    redis_settings = arq_redis_settings()
    job_serializer = staticmethod(arq_serialize)
    job_deserializer = staticmethod(arq_deserialize)
    allow_abort_jobs = True
    # `arq --check` reads the health key; it must be refreshed well within the probe period.
    health_check_interval = 10
    keep_result = 3600
    on_startup = startup
    on_shutdown = shutdown

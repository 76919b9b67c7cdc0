"""The Celery app of notify-svc: broker, reliability settings, beat schedule, worker hooks.

E-mail worker (default queue): `celery -A notify_svc.worker.celery_app:app worker
--loglevel INFO --concurrency 2`. Webhook worker (exactly the webhook queue): the same with
`--queues webhooks --concurrency 4 --hostname webhooks@%h`.
Beat (exactly one): `celery -A notify_svc.worker.celery_app:app beat --loglevel INFO
--schedule <file>`. The tasks live in `notify_svc.worker.tasks`.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery, signals

from notify_svc.core.config import get_settings
from notify_svc.core.metrics import (
    CELERY_TASK_DURATION,
    CELERY_TASKS,
    QueueDepthCollector,
    start_metrics_server,
)
from notify_svc.services.delivery import Outcome
from notify_svc.worker.queues import (
    DEFAULT_QUEUE,
    DELIVER_TASK,
    SCAN_REMINDERS_TASK,
    SWEEP_TASK,
    WEBHOOK_QUEUE,
)
from notify_svc.worker.tracing import start_worker_tracing
from taskhub_common.logging import configure_logging
from taskhub_common.tracing import flush_traces

logger = logging.getLogger(__name__)

TASK_OUTCOMES = ("success", "failure", "retry")

settings = get_settings()

app = Celery("notify_svc", broker=settings.celery_broker_url, include=["notify_svc.worker.tasks"])
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    task_default_queue=DEFAULT_QUEUE,
    # No `task_queues`: a worker started without `--queues` consumes the default queue
    # only, so e-mail workers never take webhook messages (published to WEBHOOK_QUEUE).
    # A task that dies with its worker is redelivered, and a worker holds one message at
    # a time beyond the one it runs (prefetched messages are not "in hand" on a crash).
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Unacked messages (and retries waiting for their countdown) come back after this:
    # a dead worker's message within 45 s by default; the settings validator keeps it
    # above twice the longest backoff plus time limit.
    broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout_seconds},
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    enable_utc=True,
    timezone="UTC",
    beat_schedule={
        "scan-reminders": {"task": SCAN_REMINDERS_TASK, "schedule": settings.reminder_scan_seconds},
        "sweep-stuck-jobs": {"task": SWEEP_TASK, "schedule": settings.stuck_sweep_seconds},
    },
)


@signals.setup_logging.connect
def _json_logging(**_: Any) -> None:
    """Connecting here stops Celery from installing its own handlers on the root logger."""
    configure_logging(settings.service_name, settings.log_level)


@signals.worker_ready.connect
def _serve_metrics(**_: Any) -> None:
    """The metrics server lives in the worker's main process (children share via files)."""
    current = get_settings()
    if current.celery_metrics_port <= 0:
        return  # metrics off for this worker (the webhook worker beside an e-mail one)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        logger.warning("PROMETHEUS_MULTIPROC_DIR is not set: prefork children are not counted")
    # Every outcome is exported from the start, at 0: a series born at 1 shows no
    # increase(), so the first failure after a start would go unseen.
    for task_name in (DELIVER_TASK, SCAN_REMINDERS_TASK, SWEEP_TASK):
        for outcome in TASK_OUTCOMES:
            CELERY_TASKS.labels(task_name, outcome)
    try:
        start_metrics_server(
            current.celery_metrics_port,
            address=current.metrics_address,
            extra=[QueueDepthCollector(current.celery_broker_url, [DEFAULT_QUEUE, WEBHOOK_QUEUE])],
        )
    except OSError as exc:
        logger.error("metrics server not started", extra={"error": str(exc)})


@signals.worker_process_init.connect
def _trace_child(**_: Any) -> None:
    """Each prefork child runs tasks, so each starts its own tracer (and exporter thread)."""
    start_worker_tracing(app)


@signals.worker_init.connect
def _trace_unforked_worker(sender: Any = None, **_: Any) -> None:
    # Solo and thread pools run tasks in this very process; prefork children do it above.
    if "prefork" not in str(getattr(sender, "pool_cls", "prefork")):
        start_worker_tracing(app)


@signals.beat_init.connect
def _trace_beat(**_: Any) -> None:
    start_worker_tracing(app)


@signals.worker_process_shutdown.connect
def _forget_dead_child(pid: int | None = None, **_: Any) -> None:
    flush_traces()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    if started is not None and task is not None:
        CELERY_TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)


@signals.task_success.connect
def _task_succeeded(sender: Any = None, result: Any = None, **_: Any) -> None:
    # A delivery that gave up returns normally (its dead letter is committed, nothing is
    # left to retry), yet for operators that run failed.
    outcome = "failure" if result == Outcome.FAILED.value else "success"
    # One per task run: a message naming several e-mails is one run. Deliveries themselves
    # are counted per job by taskhub_notify_jobs_total{status="ok"}.
    CELERY_TASKS.labels(getattr(sender, "name", "unknown"), outcome).inc()


@signals.task_failure.connect
def _task_failed(sender: Any = None, **_: Any) -> None:
    CELERY_TASKS.labels(getattr(sender, "name", "unknown"), "failure").inc()


@signals.task_retry.connect
def _task_retried(sender: Any = None, **_: Any) -> None:
    CELERY_TASKS.labels(getattr(sender, "name", "unknown"), "retry").inc()

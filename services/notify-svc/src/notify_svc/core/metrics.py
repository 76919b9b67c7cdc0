"""notify-svc's own metrics (jobs, Celery and ARQ work, queue depth, dead letters).

The Celery worker runs tasks in prefork children: it must be started with
`PROMETHEUS_MULTIPROC_DIR` set (a folder of its own), and its metrics server, started in
the main process, aggregates every child's samples.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import cast
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis

logger = logging.getLogger(__name__)

CELERY_TASKS = Counter("taskhub_celery_tasks", "Celery task runs by outcome.", ["task", "outcome"])
CELERY_TASK_DURATION = Histogram(
    "taskhub_celery_task_duration_seconds",
    "Duration of Celery task runs.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ARQ_JOBS = Counter("taskhub_arq_jobs", "ARQ job runs by outcome.", ["function", "outcome"])
NOTIFY_JOBS = Counter(
    "taskhub_notify_jobs", "Notification jobs entering a status.", ["type", "status"]
)
DEAD_LETTERS = Counter("taskhub_dead_letters", "Jobs moved to the dead-letter table.")


class QueueDepthCollector(Collector):
    """`taskhub_celery_queue_depth`: messages waiting in the broker list, read at scrape time."""

    def __init__(self, broker_url: str, queues: Iterable[str]) -> None:
        self.client = Redis.from_url(broker_url, socket_timeout=2.0)
        self.queues = tuple(queues)

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "taskhub_celery_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        for queue in self.queues:
            try:
                depth = cast(int, self.client.llen(queue))
            except Exception as exc:  # a scrape must answer even when Redis is down
                logger.warning("queue depth unavailable", extra={"error": type(exc).__name__})
                continue
            gauge.add_metric([queue], depth)
        yield gauge


def metrics_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """This process's registry, or every process's samples in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    for collector in extra:
        registry.register(collector)
    return registry


def start_metrics_server(
    port: int, *, address: str, extra: Iterable[Collector] = ()
) -> WSGIServer | None:
    """Serve `/metrics` on `address:port` in a thread; port 0 disables it."""
    if port <= 0:
        return None
    server, _ = start_http_server(port, addr=address, registry=metrics_registry(extra))
    logger.info("metrics server started", extra={"port": port})
    return server

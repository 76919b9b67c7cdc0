"""OpenTelemetry for notify-svc's worker processes and for the API as a Celery producer.

Celery messages carry the trace in their headers (the Celery instrumentation); ARQ jobs
carry it in a `trace_context` argument, since ARQ has no instrumentation of its own.
"""

from __future__ import annotations

from celery import Celery
from sqlalchemy.ext.asyncio import AsyncEngine

from notify_svc.core.config import get_settings
from taskhub_common.tracing import configure_tracing, instrument_celery, instrument_clients


def instrument_celery_producer(app: Celery) -> None:
    """Publish spans, and `traceparent` in every message this process sends through `app`."""
    # The instrumentation ends a publish span only for a task it finds in the registry:
    # register the app's tasks (its `include`; a producer never imports them otherwise).
    app.loader.import_default_modules()
    instrument_celery()


def start_worker_tracing(app: Celery, *engines: AsyncEngine) -> None:
    """Tracing for a process that runs jobs: a Celery worker child, beat, the ARQ worker."""
    configure_tracing(get_settings().service_name)
    instrument_clients(*engines)
    instrument_celery_producer(app)

"""The outbox relay: forwards committed events to notify-svc until each one is accepted.

One relay runs in every API process; `FOR UPDATE SKIP LOCKED` keeps them from sending the
same event concurrently. A crash between sending and recording means a resend, which the
`Idempotency-Key` (the event id) turns into a no-op at notify-svc.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.models import OutboxEvent
from task_svc.repositories import outbox as outbox_repository
from task_svc.services.events import TRACE_CONTEXT_KEY
from taskhub_common.internal import INTERNAL_TOKEN_HEADER
from taskhub_common.tracing import continue_trace

logger = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge(
    "taskhub_outbox_backlog",
    "Outbox events not yet delivered to notify-svc.",
    multiprocess_mode="mostrecent",
)

EVENTS_PATH = "/internal/events"
# The backlog is counted at most this often (every relay loop would be wasteful).
BACKLOG_REFRESH_SECONDS = 5.0

TransactionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential delay after `attempts` failures, capped, with jitter in [50 %, 100 %].

    The jitter spreads the retries of many events (and of several relays) over time.
    """
    delay: float = min(cap, base * 2.0 ** max(0, attempts - 1))
    jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
    return delay * jitter


class OutboxRelay:
    def __init__(
        self,
        *,
        transaction: TransactionFactory,
        client: httpx.AsyncClient,
        notify_url: str,
        internal_token: str,
        batch_size: int = 50,
        poll_interval_seconds: float = 0.2,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 300.0,
    ) -> None:
        self.transaction = transaction
        self.client = client
        self.events_url = notify_url.rstrip("/") + EVENTS_PATH
        self.internal_token = internal_token
        self.batch_size = batch_size
        self.poll_interval_seconds = poll_interval_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self._backlog_counted_at = float("-inf")

    async def run(self) -> None:
        """Relay forever: drain what is due, then poll again shortly."""
        while True:
            try:
                delivered = await self.deliver_due()
                await self._refresh_backlog(force=delivered > 0)
            except asyncio.CancelledError:
                raise
            except Exception:  # the relay must outlive any one failure (DB restart, ...)
                logger.exception("outbox relay iteration failed")
                delivered = 0
            if delivered < self.batch_size:
                await asyncio.sleep(self.poll_interval_seconds)

    async def deliver_due(self) -> int:
        """Send one batch of due events, in creation order; returns how many were tried."""
        async with self.transaction() as session:
            events = await outbox_repository.claim_due(session, limit=self.batch_size)
            delivered = []
            tried = 0
            for event in events:
                tried += 1
                error, reachable = await self._send(event)
                if error is None:
                    delivered.append(event.id)
                    continue
                await self._postpone(session, event, error)
                if not reachable:
                    # The rest would wait for the same timeout while holding their locks.
                    break
            await outbox_repository.mark_delivered(session, delivered)
        return tried

    async def _send(self, event: OutboxEvent) -> tuple[str | None, bool]:
        """(error or None when notify-svc took the event, whether notify-svc answered).

        2xx means accepted; 409 means it already had the event (a resend): both delivered.
        """
        headers = {INTERNAL_TOKEN_HEADER: self.internal_token, "Idempotency-Key": str(event.id)}
        try:
            # Continues the trace of the change (`traceparent` goes out with the request).
            change_trace = event.payload.get(TRACE_CONTEXT_KEY)
            with continue_trace(f"outbox relay {event.event_type}", change_trace):
                response = await self.client.post(
                    self.events_url, json=event.payload, headers=headers
                )
        except httpx.HTTPError as exc:
            return type(exc).__name__, False
        if response.is_success or response.status_code == httpx.codes.CONFLICT:
            return None, True
        return f"HTTP {response.status_code}", True

    async def _postpone(self, session: AsyncSession, event: OutboxEvent, error: str) -> None:
        attempts = event.attempts + 1
        delay = backoff_seconds(
            attempts, base=self.backoff_base_seconds, cap=self.backoff_max_seconds
        )
        logger.warning(
            "outbox event not delivered",
            extra={"event_id": str(event.id), "attempts": attempts, "error": error},
        )
        await outbox_repository.mark_failed(
            session, event.id, error=error, retry_at=datetime.now(UTC) + timedelta(seconds=delay)
        )

    async def _refresh_backlog(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._backlog_counted_at < BACKLOG_REFRESH_SECONDS:
            return
        async with self.transaction() as session:
            OUTBOX_BACKLOG.set(await outbox_repository.count_undelivered(session))
        self._backlog_counted_at = now

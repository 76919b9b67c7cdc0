"""The outbox relay: forwards committed events to notify-svc until each one is accepted.

One relay runs in every API process. Each round has three steps, none holding a
transaction across the network: claim a batch of due events (a short transaction that
moves their due time past a lease, so no other relay takes them meanwhile), send them in
one request to `/internal/events/batch`, and record each event's outcome (a second short
transaction). A crash between the steps means a resend once the lease ends, which
notify-svc turns into a no-op: it applies each event id once.

Three kinds of failure, three answers:
- notify-svc unreachable or unavailable (no connection, 503, 429): the event did nothing
  wrong. No attempt is counted and it stays due; the relay itself polls more slowly (up to
  `outage_poll_max_seconds`), so the whole backlog goes out within that time of notify-svc
  answering again, however long the outage was.
- notify-svc answered with another error (5xx, or no answer in time): retried with
  exponential backoff, parked after `max_attempts`.
- notify-svc refused the event (4xx): it never will accept it; parked at once.
A parked event is kept with its last error, counted, listed for administrators, and no
longer holds back later events of its task.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Counter, Gauge
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

OUTBOX_PARKED = Counter(
    "taskhub_outbox_parked_events",
    "Outbox events notify-svc rejected for good (parked for an administrator).",
)

EVENTS_PATH = "/internal/events"
BATCH_PATH = "/internal/events/batch"
# notify-svc is down or overloaded: the event is not at fault (see the module docstring).
UNAVAILABLE_STATUSES = frozenset({429, 502, 503, 504})
# Client errors that may pass: a duplicate is a success, a timeout a transient failure.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 409, 425})
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


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    UNAVAILABLE = "unavailable"  # notify-svc not there: nothing counted
    FAILED = "failed"  # answered with an error: backoff, parked after max_attempts
    REFUSED = "refused"  # refused the event itself: parked at once


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    error: str | None = None
    # What notify-svc said about the event (a batch answer's error message), for the log.
    reason: str | None = None


def classify(status: int) -> SendResult:
    """What an answer for one event means (an event's own status in a batch answer too)."""
    if 200 <= status < 300 or status == httpx.codes.CONFLICT:
        return SendResult(Outcome.ACCEPTED)
    error = f"HTTP {status}"
    if status in UNAVAILABLE_STATUSES:
        return SendResult(Outcome.UNAVAILABLE, error)
    if 400 <= status < 500 and status not in RETRYABLE_CLIENT_STATUSES:
        return SendResult(Outcome.REFUSED, error)
    return SendResult(Outcome.FAILED, error)


def _batch_results(response: httpx.Response, expected: int) -> list[SendResult] | None:
    """Each event's outcome from a batch answer (in request order); None if there is none."""
    if not response.is_success:
        return None
    try:
        results = response.json()["results"]
        if len(results) != expected:
            return None
        return [_event_result(result) for result in results]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _event_result(result: dict[str, Any]) -> SendResult:
    outcome = classify(int(result["status"]))
    message = (result.get("error") or {}).get("message")
    if outcome.error is None or not isinstance(message, str):
        return outcome
    # notify-svc's reason goes to the log; `last_error` keeps the status alone.
    return SendResult(outcome.outcome, outcome.error, reason=message[:200])


class OutboxRelay:
    def __init__(
        self,
        *,
        transaction: TransactionFactory,
        client: httpx.AsyncClient,
        notify_url: str,
        internal_token: str,
        batch_size: int = 100,
        poll_interval_seconds: float = 0.2,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 300.0,
        max_attempts: int = 8,
        outage_poll_max_seconds: float = 1.0,
        claim_seconds: float = 30.0,
        send_timeout_seconds: float = 10.0,
    ) -> None:
        self.transaction = transaction
        self.client = client
        self.events_url = notify_url.rstrip("/") + EVENTS_PATH
        self.batch_url = notify_url.rstrip("/") + BATCH_PATH
        self.internal_token = internal_token
        self.batch_size = batch_size
        self.poll_interval_seconds = poll_interval_seconds
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.max_attempts = max_attempts
        self.outage_poll_max_seconds = outage_poll_max_seconds
        # Longer than any send (HTTP timeout), so a live relay's claim never runs out.
        self.claim_seconds = claim_seconds
        self.send_timeout_seconds = send_timeout_seconds
        # Whether the last round found notify-svc unavailable, and the current outage wait.
        self.notify_unavailable = False
        self._outage_wait = poll_interval_seconds
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
            if delivered < self.batch_size or self.notify_unavailable:
                await asyncio.sleep(self._next_wait())

    def _next_wait(self) -> float:
        """The poll interval; while notify-svc is unavailable, growing up to the outage cap."""
        if not self.notify_unavailable:
            self._outage_wait = self.poll_interval_seconds
            return self.poll_interval_seconds
        wait = self._outage_wait
        self._outage_wait = min(self.outage_poll_max_seconds, self._outage_wait * 2)
        return wait

    async def deliver_due(self) -> int:
        """Send one batch of due events, in creation order; returns how many were tried."""
        self.notify_unavailable = False
        async with self.transaction() as session:
            events = await outbox_repository.claim_due(
                session, limit=self.batch_size, lease_seconds=self.claim_seconds
            )
        if not events:
            return 0
        results = await self._send_batch(events)
        accepted_at = datetime.now(UTC)
        async with self.transaction() as session:
            await self._record(session, events, results, accepted_at)
        return len(events)

    async def _record(
        self,
        session: AsyncSession,
        events: list[OutboxEvent],
        results: list[SendResult],
        accepted_at: datetime,
    ) -> None:
        accepted = [
            (event.id, accepted_at)
            for event, result in zip(events, results, strict=True)
            if result.outcome is Outcome.ACCEPTED
        ]
        await outbox_repository.mark_delivered(session, accepted)
        unavailable = [
            (event, result)
            for event, result in zip(events, results, strict=True)
            if result.outcome is Outcome.UNAVAILABLE
        ]
        if unavailable:
            # The rest of the backlog would fail alike: the relay polls more slowly a while.
            self.notify_unavailable = True
            error = unavailable[0][1].error or Outcome.UNAVAILABLE.value
            await outbox_repository.release(
                session, [event for event, _ in unavailable], error=error
            )
        for event, result in zip(events, results, strict=True):
            if result.outcome in (Outcome.FAILED, Outcome.REFUSED):
                await self._record_failure(session, event, result)

    async def _send_batch(self, events: list[OutboxEvent]) -> list[SendResult]:
        """Each event's outcome, from one request (or, when notify-svc cannot take a batch
        as a whole but answers, from one request per event, so a fault stays the event's)."""
        headers = {INTERNAL_TOKEN_HEADER: self.internal_token}
        body = {"events": [event.payload for event in events]}
        try:
            # Continues the first event's trace; every event carries its own trace context.
            change_trace = events[0].payload.get(TRACE_CONTEXT_KEY)
            with continue_trace(f"outbox relay batch of {len(events)}", change_trace):
                response = await self.client.post(
                    self.batch_url, json=body, headers=headers, timeout=self.send_timeout_seconds
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return [SendResult(Outcome.UNAVAILABLE, type(exc).__name__)] * len(events)
        except httpx.HTTPError as exc:
            # Connected but no (complete) answer: counted and retried with backoff, as for
            # a single event; one event at a time here could cost a timeout per event.
            return [SendResult(Outcome.FAILED, type(exc).__name__)] * len(events)
        if response.status_code in UNAVAILABLE_STATUSES:
            return [SendResult(Outcome.UNAVAILABLE, f"HTTP {response.status_code}")] * len(events)
        results = _batch_results(response, len(events))
        if results is None:
            # No batch answer (an error status, a notify-svc without the batch endpoint, an
            # unreadable body): let the single-event endpoint judge each event.
            return await self._send_each(events)
        return results

    async def _send_each(self, events: list[OutboxEvent]) -> list[SendResult]:
        results: list[SendResult] = []
        for event in events:
            result = await self._send(event)
            results.append(result)
            if result.outcome is Outcome.UNAVAILABLE:
                # The rest would fail alike (or wait for the same timeout).
                results.extend([result] * (len(events) - len(results)))
                break
        return results

    async def _send(self, event: OutboxEvent) -> SendResult:
        """What notify-svc made of the event: 2xx accepted, 409 already had it (a resend)."""
        headers = {INTERNAL_TOKEN_HEADER: self.internal_token, "Idempotency-Key": str(event.id)}
        try:
            # Continues the trace of the change (`traceparent` goes out with the request).
            change_trace = event.payload.get(TRACE_CONTEXT_KEY)
            with continue_trace(f"outbox relay {event.event_type}", change_trace):
                response = await self.client.post(
                    self.events_url, json=event.payload, headers=headers
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return SendResult(Outcome.UNAVAILABLE, type(exc).__name__)
        except httpx.HTTPError as exc:
            # Connected but no (complete) answer: possibly this event's fault; retried with
            # backoff so that it cannot stall the relay, and parked if it goes on.
            return SendResult(Outcome.FAILED, type(exc).__name__)
        return classify(response.status_code)

    async def _record_failure(
        self, session: AsyncSession, event: OutboxEvent, result: SendResult
    ) -> None:
        error = result.error or result.outcome.value
        attempts = event.attempts + 1
        if result.outcome is Outcome.REFUSED or attempts >= self.max_attempts:
            logger.error(
                "outbox event parked",
                extra={
                    "event_id": str(event.id),
                    "attempts": attempts,
                    "error": error,
                    "reason": result.reason,
                },
            )
            OUTBOX_PARKED.inc()
            await outbox_repository.park(session, event.id, error=error)
            return
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

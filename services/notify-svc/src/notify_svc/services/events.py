"""task-svc's events: `task.done` creates the notifications, deadline events keep reminders.

Each event id is handled once: the `processed_events` row commits together with the jobs
it created, so a redelivered event changes nothing and answers with the same job ids.
A batch (`/internal/events/batch`) is applied in one transaction with a handful of
statements whatever its size: one to find the repeats, one to record the new ids, one to
insert every job; each event still gets the answer the single-event endpoint would give.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.clients.auth import AuthUnavailable, UserContact, fetch_user
from notify_svc.core.metrics import NOTIFY_JOBS
from notify_svc.models import JobKind, JobType
from notify_svc.repositories import events as events_repo
from notify_svc.repositories import jobs as jobs_repo
from notify_svc.schemas.events import EventResult
from notify_svc.services import reminders
from notify_svc.services.errors import UsersUnavailable
from notify_svc.services.jobs import job_values
from taskhub_common.errors import ErrorBody
from taskhub_common.task_events import EventType, TaskEvent

logger = logging.getLogger(__name__)

# auth-svc lookups of one batch in flight at once (distinct recipients only).
LOOKUP_CONCURRENCY = 8


class Applied(enum.IntEnum):
    """What became of one event; the value is the HTTP status the relay acts on."""

    CREATED = 202
    REPEAT = 200
    REFUSED = 422
    RETRY_LATER = 503  # auth-svc could not be asked: nothing recorded


@dataclass(slots=True)
class EventOutcome:
    applied: Applied
    job_ids: list[uuid.UUID] = field(default_factory=list)
    # Set for a created event: the ids of its jobs that are webhooks (their own queue).
    webhook_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def duplicate(self) -> bool:
        return self.applied is Applied.REPEAT

    @property
    def emails(self) -> list[uuid.UUID]:
        return [job_id for job_id in self.job_ids if job_id not in self.webhook_ids]


@dataclass(slots=True)
class BatchApplied:
    results: list[EventResult]
    # The jobs created, to hand to Celery once committed.
    emails: list[uuid.UUID] = field(default_factory=list)
    webhooks: list[uuid.UUID] = field(default_factory=list)


async def handle_event(session: AsyncSession, *, event: TaskEvent) -> EventOutcome:
    """Apply `event` once; a known event id is a duplicate with the jobs it created."""
    (outcome,) = await apply_events(session, [event])
    if outcome.applied is Applied.RETRY_LATER:
        raise UsersUnavailable
    return outcome


async def apply_batch(session: AsyncSession, raw: Sequence[Any]) -> BatchApplied:
    """A batch's events applied (malformed ones refused alone); one result each, in order."""
    parsed = parse_batch(raw)
    outcomes = iter(await apply_events(session, [e for e in parsed if isinstance(e, TaskEvent)]))
    applied = BatchApplied(results=[])
    for item in parsed:
        if isinstance(item, EventResult):
            applied.results.append(item)
            continue
        outcome = next(outcomes)
        applied.results.append(
            EventResult(event_id=item.event_id, status=outcome.applied, job_ids=outcome.job_ids)
        )
        if outcome.applied is Applied.CREATED:
            applied.emails.extend(outcome.emails)
            applied.webhooks.extend(outcome.webhook_ids)
    return applied


def parse_batch(raw: Sequence[Any]) -> list[TaskEvent | EventResult]:
    """Each raw event validated on its own: the event, or its refusal (422)."""
    parsed: list[TaskEvent | EventResult] = []
    for item in raw:
        try:
            parsed.append(TaskEvent.model_validate(item))
        except ValidationError as exc:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ())) or "event"
            parsed.append(
                EventResult(
                    event_id=event_id if isinstance(event_id, str) else None,
                    status=Applied.REFUSED,
                    error=ErrorBody(
                        code="VALIDATION_ERROR",
                        message=f"The event is not valid ({where}: {first.get('msg')}).",
                    ),
                )
            )
    return parsed


async def apply_events(session: AsyncSession, events: Sequence[TaskEvent]) -> list[EventOutcome]:
    """Apply each event once, in one transaction; the outcomes in the order given.

    An id seen earlier (before, or earlier in the same batch) is a repeat answered with its
    jobs. Events whose recipient auth-svc could not tell are left unrecorded (503).
    """
    outcomes: dict[str, EventOutcome] = {}
    ids = list(dict.fromkeys(event.event_id for event in events))
    known = await events_repo.processed_among(session, ids)
    fresh = _first_of_each([event for event in events if event.event_id not in known])
    contacts = await _contacts(fresh)
    to_record = []
    for event in fresh:
        if event.type is EventType.TASK_DONE and event.task.recipient_id not in contacts:
            outcomes[event.event_id] = EventOutcome(Applied.RETRY_LATER)
        else:
            to_record.append(event)
    recorded = await events_repo.record_many(
        session, [(event.event_id, event.type.value) for event in to_record]
    )
    rows: list[dict[str, Any]] = []
    applying = [event for event in to_record if event.event_id in recorded]
    await _update_reminders(session, applying)
    for event in applying:
        outcomes[event.event_id] = _jobs_of(event, contacts, rows)
    await jobs_repo.insert_jobs(session, rows)
    for row in rows:
        NOTIFY_JOBS.labels(row["type"], row["status"]).inc()
    repeats = [event_id for event_id in ids if event_id not in outcomes]
    if repeats:
        earlier = await jobs_repo.job_ids_for_events(session, repeats)
        for event_id in repeats:
            outcomes[event_id] = EventOutcome(Applied.REPEAT, job_ids=earlier[event_id])
    return _in_request_order(events, outcomes)


def _first_of_each(events: Sequence[TaskEvent]) -> list[TaskEvent]:
    first: dict[str, TaskEvent] = {}
    for event in events:
        first.setdefault(event.event_id, event)
    return list(first.values())


def _in_request_order(
    events: Sequence[TaskEvent], outcomes: dict[str, EventOutcome]
) -> list[EventOutcome]:
    """One outcome per event; the second copy of an id within the batch is a repeat."""
    answered: set[str] = set()
    ordered = []
    for event in events:
        outcome = outcomes[event.event_id]
        if event.event_id in answered and outcome.applied is Applied.CREATED:
            outcome = EventOutcome(Applied.REPEAT, job_ids=outcome.job_ids)
        answered.add(event.event_id)
        ordered.append(outcome)
    return ordered


async def _contacts(events: Sequence[TaskEvent]) -> dict[uuid.UUID, UserContact | None]:
    """The recipients of the `task.done` events, asked before any lock is taken.

    A recipient auth-svc could not tell about is missing from the answer (its events are
    retried later); None means auth-svc says the user does not exist.
    """
    wanted = {event.task.recipient_id for event in events if event.type is EventType.TASK_DONE}
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def lookup(user_id: uuid.UUID) -> tuple[uuid.UUID, UserContact | None] | None:
        async with gate:
            try:
                return user_id, await fetch_user(user_id)
            except AuthUnavailable:
                return None

    found = await asyncio.gather(*(lookup(user_id) for user_id in wanted))
    return dict(pair for pair in found if pair is not None)


async def _update_reminders(session: AsyncSession, events: Sequence[TaskEvent]) -> None:
    """Each event's reminder change: a completed task's reminder is dropped, a deadline
    change creates, moves or drops it.

    The relay sends one event per task in a batch (a task's next event waits for the one
    before), so every `task.done` of a batch is dropped in one statement; should a batch
    hold several events of one task, they are applied one by one, in order.
    """
    if len({event.task.id for event in events}) < len(events):
        for event in events:
            await _update_reminder(session, event)
        return
    done = [event for event in events if event.type is EventType.TASK_DONE]
    await reminders.forget_many(
        session, events=[(event.task.id, event.occurred_at) for event in done]
    )
    for event in events:
        if event.type is not EventType.TASK_DONE:
            await _update_reminder(session, event)


async def _update_reminder(session: AsyncSession, event: TaskEvent) -> None:
    if event.type is EventType.TASK_DEADLINE_CHANGED:
        await reminders.apply_deadline(session, event=event)
    else:
        await reminders.forget(session, task_id=event.task.id, event_at=event.occurred_at)


def _jobs_of(
    event: TaskEvent, contacts: dict[uuid.UUID, UserContact | None], rows: list[dict[str, Any]]
) -> EventOutcome:
    """The event's jobs, appended to `rows` (the batch's jobs are inserted together)."""
    if event.type is EventType.TASK_DONE:
        return _task_done_jobs(event, contacts[event.task.recipient_id], rows)
    return EventOutcome(Applied.CREATED)


def _task_done_jobs(
    event: TaskEvent, recipient: UserContact | None, rows: list[dict[str, Any]]
) -> EventOutcome:
    """A done task's jobs: an e-mail to its recipient, and a webhook when it has a URL."""
    outcome = EventOutcome(Applied.CREATED)
    if recipient is None:
        # The user is gone from auth-svc: nobody to write to, but the webhook still goes.
        logger.warning("task.done recipient unknown", extra={"task_id": str(event.task.id)})
    else:
        outcome.job_ids.append(_add_row(rows, _done_email(event, recipient)))
    if event.task.webhook_url:
        job_id = _add_row(rows, _done_webhook(event, event.task.webhook_url))
        outcome.job_ids.append(job_id)
        outcome.webhook_ids.append(job_id)
    return outcome


def _done_email(event: TaskEvent, recipient: UserContact) -> dict[str, Any]:
    task = event.task
    payload = {
        "to": recipient.email,
        "subject": f"Task done: {task.title}"[:200],
        "body": f'The task "{task.title}" is done.',
    }
    return job_values(
        job_type=JobType.EMAIL,
        kind=JobKind.TASK_DONE,
        payload=payload,
        owner_id=recipient.id,
        task_id=task.id,
        task_owner_id=task.owner_id,
        event_id=event.event_id,
    )


def _done_webhook(event: TaskEvent, url: str) -> dict[str, Any]:
    # Owned by the task's owner: their webhook, their slots and quota.
    task = event.task
    body = {
        "event": event.type.value,
        "event_id": event.event_id,
        "occurred_at": event.occurred_at.isoformat(),
        "task": task.model_dump(mode="json", exclude={"webhook_url"}),
    }
    return job_values(
        job_type=JobType.WEBHOOK,
        kind=JobKind.TASK_DONE,
        payload={"url": url, "payload": body},
        owner_id=task.owner_id,
        task_id=task.id,
        task_owner_id=task.owner_id,
        event_id=event.event_id,
    )


def _add_row(rows: list[dict[str, Any]], values: dict[str, Any]) -> uuid.UUID:
    # The id is chosen here so the answer can name each event's jobs before the insert.
    job_id = uuid.uuid4()
    rows.append({"id": job_id, **values})
    return job_id

"""task_svc.repositories.outbox against the real test PostgreSQL (each test rolled back)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.db.session import database
from task_svc.models import OutboxEvent
from task_svc.repositories import outbox as outbox_repository

pytestmark = pytest.mark.integration

# Older than anything other tests leave behind: a claim takes these first.
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


def _event(*, task_id: uuid.UUID | None = None, seconds: int = 0) -> OutboxEvent:
    """A due event created `seconds` after LONG_AGO."""
    return OutboxEvent(
        id=uuid.uuid4(),
        event_type="task.done",
        task_id=task_id or uuid.uuid4(),
        payload={"n": seconds},
        created_at=LONG_AGO + timedelta(seconds=seconds),
        next_attempt_at=LONG_AGO,
    )


async def _queued(session: AsyncSession, *events: OutboxEvent) -> list[OutboxEvent]:
    outbox_repository.add_events(session, events)
    await session.flush()
    return list(events)


async def _reload(session: AsyncSession, event: OutboxEvent) -> OutboxEvent:
    statement = select(OutboxEvent).where(OutboxEvent.id == event.id)
    return (await session.scalars(statement.execution_options(populate_existing=True))).one()


async def test_add_events_queues_them_in_the_callers_transaction(session: AsyncSession) -> None:
    first, second = _event(), _event()
    outbox_repository.add_events(session, [first, second])
    await session.flush()
    stored = await session.scalars(
        select(OutboxEvent.id).where(OutboxEvent.id.in_([first.id, second.id]))
    )
    assert set(stored) == {first.id, second.id}
    assert (await _reload(session, first)).attempts == 0


async def test_claim_due_takes_the_oldest_due_events_up_to_the_limit(
    session: AsyncSession,
) -> None:
    events = await _queued(session, *(_event(seconds=n) for n in (3, 1, 2)))
    not_due = _event(seconds=0)
    not_due.next_attempt_at = datetime.now(UTC) + timedelta(hours=1)
    await _queued(session, not_due)
    claimed = await outbox_repository.claim_due(session, limit=2, lease_seconds=30)
    assert [event.payload["n"] for event in claimed] == [1, 2]
    rest = await outbox_repository.claim_due(session, limit=1, lease_seconds=30)
    assert [event.id for event in rest] == [events[0].id]


async def test_a_claimed_event_is_leased_and_keeps_its_old_due_time(
    session: AsyncSession,
) -> None:
    (event,) = await _queued(session, _event())
    (claimed,) = await outbox_repository.claim_due(session, limit=1, lease_seconds=30)
    assert claimed.next_attempt_at == LONG_AGO  # what `release` gives back
    leased_until = (await _reload(session, event)).next_attempt_at
    assert leased_until > datetime.now(UTC) + timedelta(seconds=25)
    again = await outbox_repository.claim_due(session, limit=10, lease_seconds=30)
    assert event.id not in {other.id for other in again}


async def test_a_later_event_of_a_task_waits_for_its_pending_predecessor(
    session: AsyncSession,
) -> None:
    task_id = uuid.uuid4()
    first = _event(task_id=task_id, seconds=1)
    first.next_attempt_at = datetime.now(UTC) + timedelta(hours=1)  # pending, not due
    second = _event(task_id=task_id, seconds=2)
    await _queued(session, first, second)
    claimed = await outbox_repository.claim_due(session, limit=10, lease_seconds=30)
    assert second.id not in {event.id for event in claimed}
    # Once the first is parked it no longer holds the second back.
    await outbox_repository.park(session, first.id, error="rejected")
    claimed = await outbox_repository.claim_due(session, limit=10, lease_seconds=30)
    assert second.id in {event.id for event in claimed}


async def test_delivered_and_parked_events_are_never_claimed(session: AsyncSession) -> None:
    delivered, parked = await _queued(session, _event(seconds=1), _event(seconds=2))
    await outbox_repository.mark_delivered(session, [(delivered.id, datetime.now(UTC))])
    await outbox_repository.park(session, parked.id, error="rejected")
    claimed = await outbox_repository.claim_due(session, limit=10, lease_seconds=30)
    assert {delivered.id, parked.id}.isdisjoint(event.id for event in claimed)


async def test_mark_delivered_records_the_acceptance_and_counts_the_attempt(
    session: AsyncSession,
) -> None:
    first, second = await _queued(session, _event(), _event())
    await outbox_repository.mark_failed(session, first.id, error="502", retry_at=datetime.now(UTC))
    accepted_at = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    await outbox_repository.mark_delivered(
        session, [(first.id, accepted_at), (second.id, accepted_at)]
    )
    await outbox_repository.mark_delivered(session, [])  # nothing to record: no statement
    for event, attempts in ((first, 2), (second, 1)):
        stored = await _reload(session, event)
        assert (stored.delivered_at, stored.attempts, stored.last_error) == (
            accepted_at,
            attempts,
            None,
        )


async def test_mark_failed_counts_the_attempt_and_sets_the_retry(session: AsyncSession) -> None:
    (event,) = await _queued(session, _event())
    retry_at = datetime(2030, 1, 1, tzinfo=UTC)
    await outbox_repository.mark_failed(
        session, event.id, error="500 from notify", retry_at=retry_at
    )
    stored = await _reload(session, event)
    assert (stored.attempts, stored.last_error, stored.next_attempt_at) == (
        1,
        "500 from notify",
        retry_at,
    )


async def test_mark_failed_leaves_a_delivered_event_alone(session: AsyncSession) -> None:
    (event,) = await _queued(session, _event())
    await outbox_repository.mark_delivered(session, [(event.id, datetime.now(UTC))])
    await outbox_repository.mark_failed(
        session, event.id, error="late answer", retry_at=datetime.now(UTC)
    )
    stored = await _reload(session, event)
    assert (stored.attempts, stored.last_error) == (1, None)


async def test_release_gives_back_the_due_time_without_counting_an_attempt(
    session: AsyncSession,
) -> None:
    (event,) = await _queued(session, _event())
    claimed = await outbox_repository.claim_due(session, limit=1, lease_seconds=30)
    await outbox_repository.release(session, claimed, error="connection refused")
    await outbox_repository.release(session, [], error="nothing")  # no events: no statement
    stored = await _reload(session, event)
    assert (stored.next_attempt_at, stored.attempts, stored.last_error) == (
        LONG_AGO,
        0,
        "connection refused",
    )


async def test_park_sets_the_event_aside_unless_it_was_delivered(session: AsyncSession) -> None:
    rejected, delivered = await _queued(session, _event(), _event())
    await outbox_repository.mark_delivered(session, [(delivered.id, datetime.now(UTC))])
    for event in (rejected, delivered):
        await outbox_repository.park(session, event.id, error="422 from notify")
    stored = await _reload(session, rejected)
    assert stored.parked_at is not None
    assert (stored.attempts, stored.last_error) == (1, "422 from notify")
    assert (await _reload(session, delivered)).parked_at is None


async def test_parked_page_is_most_recently_parked_first_with_the_total(
    session: AsyncSession,
) -> None:
    _, before = await outbox_repository.parked_page(session, offset=0, limit=1)
    events = await _queued(session, *(_event(seconds=n) for n in range(3)))
    for event in events:  # parked_at is clock_timestamp(): each later than the last
        await outbox_repository.park(session, event.id, error="rejected")
    rows, total = await outbox_repository.parked_page(session, offset=0, limit=3)
    assert total == before + 3
    assert [row.id for row in rows] == [event.id for event in reversed(events)]
    (second,), _ = await outbox_repository.parked_page(session, offset=1, limit=1)
    assert second.id == events[1].id


async def test_requeue_makes_a_parked_event_pending_with_fresh_attempts(
    session: AsyncSession,
) -> None:
    (event,) = await _queued(session, _event())
    await outbox_repository.park(session, event.id, error="rejected")
    assert await outbox_repository.requeue(session, event.id) is True
    stored = await _reload(session, event)
    assert (stored.parked_at, stored.attempts) == (None, 0)
    assert stored.next_attempt_at > LONG_AGO
    assert await outbox_repository.requeue(session, event.id) is False  # no longer parked


async def test_requeue_of_an_unknown_or_pending_event_is_false(session: AsyncSession) -> None:
    (pending,) = await _queued(session, _event())
    assert await outbox_repository.requeue(session, pending.id) is False
    assert await outbox_repository.requeue(session, uuid.uuid4()) is False


async def test_count_undelivered_counts_pending_events_only(session: AsyncSession) -> None:
    before = await outbox_repository.count_undelivered(session)
    pending, delivered, parked = await _queued(session, _event(), _event(), _event())
    await outbox_repository.mark_delivered(session, [(delivered.id, datetime.now(UTC))])
    await outbox_repository.park(session, parked.id, error="rejected")
    assert await outbox_repository.count_undelivered(session) == before + 1
    assert pending.delivered_at is None


# --- claims seen from another relay (so the event is committed, then removed) -------------


# Tests ask for it before `session`: its removal then comes after the session's rollback
# released the claim's lock (the other way round, the DELETE would wait for it forever).
@pytest.fixture
async def committed_event(migrated: None) -> AsyncIterator[OutboxEvent]:
    event = _event()
    async with database.transaction() as db_session:
        outbox_repository.add_events(db_session, [event])
    yield event
    async with database.transaction() as db_session:
        await db_session.execute(delete(OutboxEvent).where(OutboxEvent.id == event.id))


async def test_a_second_relay_skips_the_events_another_one_is_claiming(
    committed_event: OutboxEvent, session: AsyncSession
) -> None:
    (claimed,) = await outbox_repository.claim_due(session, limit=1, lease_seconds=30)
    assert claimed.id == committed_event.id
    async with database.engine.connect() as connection:
        other_relay = AsyncSession(bind=connection)
        try:
            # SKIP LOCKED: it answers at once, without the claimed row.
            seen = await outbox_repository.claim_due(other_relay, limit=10, lease_seconds=30)
            assert committed_event.id not in {event.id for event in seen}
        finally:
            await other_relay.rollback()
            await other_relay.close()

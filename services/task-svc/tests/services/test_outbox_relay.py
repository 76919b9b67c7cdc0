"""The outbox relay against a real HTTP receiver on loopback (notify-svc's contract)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.core.config import get_settings
from task_svc.models import OutboxEvent, TaskStatus
from task_svc.repositories import outbox as outbox_repository
from task_svc.services.events import TaskSnapshot, events_for_change
from task_svc.services.outbox_relay import OutboxRelay, backoff_seconds

INTERNAL_TOKEN = get_settings().internal_token.get_secret_value()


def _relay(session: AsyncSession, notify_url: str, **options: Any) -> OutboxRelay:
    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with session.begin_nested():
            yield session

    return OutboxRelay(
        transaction=transaction,
        client=httpx.AsyncClient(timeout=2.0),
        notify_url=notify_url,
        internal_token=INTERNAL_TOKEN,
        **{"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2, **options},
    )


def _snapshot(status: TaskStatus = TaskStatus.TODO) -> TaskSnapshot:
    return TaskSnapshot(
        id=uuid.uuid4(),
        title="t",
        owner_id=uuid.uuid4(),
        assignee_id=None,
        webhook_url=None,
        due_at=None,
        status=status,
    )


async def _done_event(session: AsyncSession, snapshot: TaskSnapshot | None = None) -> OutboxEvent:
    before = snapshot or _snapshot()
    (event,) = events_for_change(before, replace(before, status=TaskStatus.DONE))
    session.add(event)
    await session.flush()
    return event


async def _reload(session: AsyncSession, event: OutboxEvent) -> OutboxEvent:
    statement = select(OutboxEvent).where(OutboxEvent.id == event.id)
    return (await session.execute(statement.execution_options(populate_existing=True))).scalar_one()


def _posts_of(receiver: Any, event: OutboxEvent) -> list[dict[str, Any]]:
    return [r for r in receiver.requests if r["headers"]["Idempotency-Key"] == str(event.id)]


async def test_retries_with_backoff_until_accepted_then_never_again(
    session: AsyncSession, loopback: Any
) -> None:
    loopback.statuses = [500, 500]  # then the default 202
    event = await _done_event(session)
    # Backoff after n failures: 0.5 * 2**(n-1) s, jittered down to half of that.
    relay = _relay(session, loopback.url, backoff_base_seconds=0.5, backoff_max_seconds=1.0)

    await relay.deliver_due()
    failed = await _reload(session, event)
    assert (failed.attempts, failed.last_error, failed.delivered_at) == (1, "HTTP 500", None)
    assert failed.next_attempt_at > failed.created_at

    await relay.deliver_due()  # not due yet: backing off
    assert len(_posts_of(loopback, event)) == 1

    for _ in range(80):
        await asyncio.sleep(0.05)
        await relay.deliver_due()
        if (await _reload(session, event)).delivered_at is not None:
            break
    delivered = await _reload(session, event)
    assert delivered.delivered_at is not None
    assert delivered.attempts == 3
    assert delivered.last_error is None

    await relay.deliver_due()
    posts = _posts_of(loopback, event)
    assert len(posts) == 3
    for post in posts:
        assert post["path"] == "/internal/events/batch"
        assert post["headers"]["X-Internal-Token"] == INTERNAL_TOKEN
        assert post["headers"]["Content-Type"] == "application/json"
        assert post["json"] == event.payload


async def test_a_refused_event_is_parked_with_notify_svc_reason_in_the_log(
    session: AsyncSession, loopback: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = await _done_event(session)
    loopback.batch_errors = {str(event.id): "The event is not valid (task.title: too long)."}
    loopback.statuses = [422]

    await _relay(session, loopback.url).deliver_due()

    parked = await _reload(session, event)
    assert parked.parked_at is not None
    assert parked.last_error == "HTTP 422"
    [record] = [r for r in caplog.records if r.getMessage() == "outbox event parked"]
    assert getattr(record, "reason", None) == "The event is not valid (task.title: too long)."


@pytest.mark.parametrize("status", [200, 202, 204, 409])
async def test_accepted_or_duplicate_counts_as_delivered(
    session: AsyncSession, loopback: Any, status: int
) -> None:
    loopback.statuses = [status]
    event = await _done_event(session)
    await _relay(session, loopback.url).deliver_due()
    assert (await _reload(session, event)).delivered_at is not None


async def test_notify_svc_down_loses_nothing_and_costs_the_event_nothing(
    session: AsyncSession, closed_port_url: str, loopback: Any
) -> None:
    event = await _done_event(session)
    down = _relay(session, closed_port_url)
    await down.deliver_due()
    pending = await _reload(session, event)
    # No attempt counted, no deadline moved: due again the moment notify-svc answers.
    assert (pending.attempts, pending.last_error, pending.delivered_at) == (0, "ConnectError", None)
    assert pending.next_attempt_at <= pending.created_at
    assert down.notify_unavailable

    await _relay(session, loopback.url).deliver_due()
    assert (await _reload(session, event)).delivered_at is not None
    assert len(_posts_of(loopback, event)) == 1


async def test_a_batch_notify_svc_cannot_take_is_released_untouched(
    session: AsyncSession, closed_port_url: str, loopback: Any
) -> None:
    events = [await _done_event(session) for _ in range(3)]
    due_before = [(await _reload(session, e)).next_attempt_at for e in events]
    relay = _relay(session, closed_port_url)

    tried = await relay.deliver_due()

    assert tried == 3  # one request for the three
    after = [await _reload(session, e) for e in events]
    # Nothing delivered, no attempt counted, each due again at its old time.
    assert [(e.delivered_at, e.attempts, e.last_error) for e in after] == [
        (None, 0, "ConnectError")
    ] * 3
    assert [e.next_attempt_at for e in after] == due_before
    assert relay.notify_unavailable

    await _relay(session, loopback.url).deliver_due()
    assert all([(await _reload(session, e)).delivered_at is not None for e in events])
    assert [len(_posts_of(loopback, e)) for e in events] == [1, 1, 1]


async def test_one_request_carries_the_batch_and_each_event_gets_its_own_outcome(
    session: AsyncSession, loopback: Any
) -> None:
    accepted, refused, waiting = [await _done_event(session) for _ in range(3)]
    loopback.statuses = [202, 422, 503]  # per event: applied, refused, auth-svc down
    relay = _relay(session, loopback.url)

    assert await relay.deliver_due() == 3

    assert {r["path"] for r in loopback.requests} == {"/internal/events/batch"}
    assert (await _reload(session, accepted)).delivered_at is not None
    parked = await _reload(session, refused)
    assert (parked.parked_at is not None, parked.attempts, parked.last_error) == (
        True,
        1,
        "HTTP 422",
    )
    pending = await _reload(session, waiting)
    assert (pending.delivered_at, pending.attempts, pending.last_error) == (None, 0, "HTTP 503")
    assert relay.notify_unavailable
    await relay.deliver_due()  # only the waiting one is sent again
    assert (await _reload(session, waiting)).delivered_at is not None
    assert [len(_posts_of(loopback, e)) for e in (accepted, refused, waiting)] == [1, 1, 2]


async def test_a_notify_svc_without_the_batch_endpoint_gets_one_event_per_request(
    session: AsyncSession, loopback: Any
) -> None:
    loopback.batch_endpoint = False
    events = [await _done_event(session) for _ in range(2)]

    await _relay(session, loopback.url).deliver_due()

    assert all([(await _reload(session, e)).delivered_at is not None for e in events])
    singles = [r for r in loopback.requests if r["path"] == "/internal/events"]
    assert [r["headers"]["Idempotency-Key"] for r in singles] == [str(e.id) for e in events]


async def test_a_claimed_batch_is_left_to_its_relay_until_the_claim_ends(
    session: AsyncSession,
) -> None:
    """A relay that dies after claiming (before sending or before recording) delays its
    events by the claim; then another relay sends them again."""
    event = await _done_event(session)
    async with session.begin_nested():
        claimed = await outbox_repository.claim_due(session, limit=10, lease_seconds=0.3)
    assert [e.id for e in claimed] == [event.id]
    async with session.begin_nested():
        assert await outbox_repository.claim_due(session, limit=10, lease_seconds=0.3) == []
    await asyncio.sleep(0.4)
    async with session.begin_nested():
        again = await outbox_repository.claim_due(session, limit=10, lease_seconds=0.3)
    assert [e.id for e in again] == [event.id]
    pending = await _reload(session, event)
    assert (pending.delivered_at, pending.attempts) == (None, 0)


async def test_a_resend_after_a_lost_answer_is_accepted_as_a_repeat(
    session: AsyncSession, loopback: Any
) -> None:
    """notify-svc applied the batch but the relay never heard (timeout): counted as a
    failed attempt, sent again, and notify-svc's 200 for a repeat marks it delivered."""
    event = await _done_event(session)
    loopback.delay_seconds = 0.5
    relay = _relay(session, loopback.url, send_timeout_seconds=0.2, backoff_base_seconds=0.01)
    await relay.deliver_due()
    failed = await _reload(session, event)
    assert (failed.delivered_at, failed.attempts, failed.last_error) == (None, 1, "ReadTimeout")

    loopback.delay_seconds = 0.0
    loopback.statuses = [200]
    await asyncio.sleep(0.05)
    await relay.deliver_due()
    assert (await _reload(session, event)).delivered_at is not None
    assert len(_posts_of(loopback, event)) == 2


async def test_the_loop_survives_failing_iterations(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    class BrokenTransaction(AbstractAsyncContextManager[AsyncSession]):
        async def __aenter__(self) -> AsyncSession:
            nonlocal calls
            calls += 1
            raise RuntimeError("database restarting")

        async def __aexit__(self, *exc_info: object) -> None:
            return None

    relay = OutboxRelay(
        transaction=BrokenTransaction,
        client=httpx.AsyncClient(),
        notify_url="http://127.0.0.1:9",
        internal_token=INTERNAL_TOKEN,
        poll_interval_seconds=0.02,
    )
    runner = asyncio.create_task(relay.run())
    await asyncio.sleep(0.2)
    assert not runner.done()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert calls >= 3
    assert "outbox relay iteration failed" in caplog.messages


async def test_events_of_one_task_keep_their_order(session: AsyncSession, loopback: Any) -> None:
    task = _snapshot()
    first = await _done_event(session, task)
    second = await _done_event(session, replace(task, status=TaskStatus.TODO))
    other_task = await _done_event(session)
    loopback.statuses = [500]  # the first event fails once
    relay = _relay(session, loopback.url)

    await relay.deliver_due()
    assert _posts_of(loopback, second) == []  # waits behind the failed first event
    assert len(_posts_of(loopback, other_task)) == 1  # other tasks are not held up

    for _ in range(40):
        await asyncio.sleep(0.05)
        await relay.deliver_due()
        if (await _reload(session, second)).delivered_at is not None:
            break
    keys = [r["headers"]["Idempotency-Key"] for r in loopback.requests]
    ours = [key for key in keys if key in {str(first.id), str(second.id)}]
    assert ours == [str(first.id), str(first.id), str(second.id)]


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    delays = [backoff_seconds(n, base=1.0, cap=60.0) for n in range(1, 10) for _ in range(20)]
    by_attempt = [delays[i * 20 : (i + 1) * 20] for i in range(9)]
    for attempt, samples in enumerate(by_attempt, start=1):
        nominal = min(60.0, 2.0 ** (attempt - 1))
        assert all(nominal * 0.5 <= d <= nominal for d in samples)
    assert len(set(by_attempt[3])) > 1  # jitter
    assert max(max(s) for s in by_attempt) <= 60.0


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_an_unavailable_notify_svc_counts_no_attempt(
    session: AsyncSession, loopback: Any, status: int
) -> None:
    loopback.statuses = [status]
    event = await _done_event(session)
    relay = _relay(session, loopback.url)

    await relay.deliver_due()
    assert relay.notify_unavailable
    pending = await _reload(session, event)
    assert (pending.attempts, pending.last_error) == (0, f"HTTP {status}")

    await relay.deliver_due()  # due at once, not after a backoff
    assert (await _reload(session, event)).delivered_at is not None


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_refused_event_is_parked_and_no_longer_holds_its_task_back(
    session: AsyncSession, loopback: Any, status: int
) -> None:
    task = _snapshot()
    poison = await _done_event(session, task)
    later = await _done_event(session, replace(task, status=TaskStatus.TODO))
    loopback.statuses = [status]
    parked_before = _parked_count()
    relay = _relay(session, loopback.url)

    await relay.deliver_due()  # parks the refused event
    await relay.deliver_due()  # the next round no longer waits behind it

    parked = await _reload(session, poison)
    assert parked.parked_at is not None
    assert (parked.attempts, parked.last_error, parked.delivered_at) == (1, f"HTTP {status}", None)
    assert (await _reload(session, later)).delivered_at is not None
    assert _parked_count() == parked_before + 1


async def test_an_event_that_keeps_failing_is_parked_after_the_last_attempt(
    session: AsyncSession, loopback: Any
) -> None:
    loopback.default_status = 500
    event = await _done_event(session)
    relay = _relay(session, loopback.url, max_attempts=3, backoff_base_seconds=0.01)

    for _ in range(100):
        await relay.deliver_due()
        if (await _reload(session, event)).parked_at is not None:
            break
        await asyncio.sleep(0.02)

    parked = await _reload(session, event)
    assert (parked.attempts, parked.last_error) == (3, "HTTP 500")
    assert parked.parked_at is not None
    assert len(_posts_of(loopback, event)) == 3
    await relay.deliver_due()
    assert len(_posts_of(loopback, event)) == 3  # parked: never sent again


async def test_delivered_at_is_the_time_notify_svc_accepted_the_batch(
    session: AsyncSession, loopback: Any
) -> None:
    first, second = await _done_event(session), await _done_event(session)
    loopback.delay_seconds = 0.2
    before = datetime.now(UTC)

    await _relay(session, loopback.url).deliver_due()

    times = [(await _reload(session, e)).delivered_at for e in (first, second)]
    assert times[0] is not None
    assert times[0] == times[1]
    assert (times[0] - before).total_seconds() >= 0.15  # the answer, not the claim


async def test_the_backlog_goes_out_within_the_outage_poll_of_notify_svc_answering_again(
    session: AsyncSession, closed_port_url: str, loopback: Any
) -> None:
    events = [await _done_event(session) for _ in range(20)]
    # Production backoff: were the outage counted against the events, they would wait
    # seconds after notify-svc's return.
    relay = _relay(
        session,
        closed_port_url,
        poll_interval_seconds=0.02,
        outage_poll_max_seconds=0.3,
        backoff_base_seconds=1.0,
        backoff_max_seconds=300.0,
    )

    async def round_then_wait() -> None:
        # What `run()` does each round (run here in the test's task: one session).
        await relay.deliver_due()
        await asyncio.sleep(relay._next_wait())

    outage_ends = time.monotonic() + 1.5
    while time.monotonic() < outage_ends:  # the relay backs off to its outage poll
        await round_then_wait()
    assert relay.notify_unavailable
    relay.batch_url = loopback.url.rstrip("/") + "/internal/events/batch"  # notify-svc is back
    back = time.monotonic()
    while any([(await _reload(session, e)).delivered_at is None for e in events]):
        assert time.monotonic() - back < 3.0, "the backlog did not drain in time"
        await round_then_wait()
    drained = time.monotonic() - back

    assert drained <= 0.3 + 1.2  # the outage poll, plus sending 20 events on a busy machine
    assert all(len(_posts_of(loopback, e)) == 1 for e in events)


def _parked_count() -> float:
    value = REGISTRY.get_sample_value("taskhub_outbox_parked_events_total")
    return value or 0.0


def test_a_claim_must_outlive_its_sends() -> None:
    from pydantic import ValidationError

    from task_svc.core.config import Settings

    with pytest.raises(ValidationError, match="outbox_claim_seconds"):
        Settings(outbox_claim_seconds=15, outbox_send_timeout_seconds=10)
    assert Settings(outbox_claim_seconds=21, outbox_send_timeout_seconds=10).outbox_claim_seconds

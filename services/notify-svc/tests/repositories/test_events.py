"""notify_svc.repositories.events against the real test PostgreSQL (each test rolled back)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.repositories import events as event_repository

pytestmark = pytest.mark.integration

OtherTransaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def _event_id() -> str:
    return str(uuid.uuid4())


async def test_record_is_true_once_then_the_event_is_processed(session: AsyncSession) -> None:
    event_id = _event_id()
    assert await event_repository.is_processed(session, event_id) is False
    assert await event_repository.record(session, event_id=event_id, event_type="task.done")
    assert await event_repository.is_processed(session, event_id) is True
    assert not await event_repository.record(session, event_id=event_id, event_type="task.done")


async def test_processed_among_names_the_recorded_ids_only(session: AsyncSession) -> None:
    seen, unseen = _event_id(), _event_id()
    await event_repository.record(session, event_id=seen, event_type="task.done")
    assert await event_repository.processed_among(session, [seen, unseen]) == {seen}
    assert await event_repository.processed_among(session, []) == set()


async def test_record_many_returns_the_new_ids_and_skips_known_ones(
    session: AsyncSession,
) -> None:
    known, first, second = _event_id(), _event_id(), _event_id()
    await event_repository.record(session, event_id=known, event_type="task.done")
    new = await event_repository.record_many(
        session,
        [(second, "task.deadline_changed"), (known, "task.done"), (first, "task.done")],
    )
    assert new == {first, second}
    assert await event_repository.processed_among(session, [first, second, known]) == {
        first,
        second,
        known,
    }
    assert await event_repository.record_many(session, []) == set()


async def test_of_two_concurrent_records_exactly_one_wins(
    session: AsyncSession, other_transaction: OtherTransaction
) -> None:
    event_id = _event_id()
    assert await event_repository.record(session, event_id=event_id, event_type="task.done")
    async with other_transaction() as other:
        # The other insert waits for this transaction's key; once it is gone (rolled
        # back here), the other one wins.
        waiting = asyncio.create_task(
            event_repository.record(other, event_id=event_id, event_type="task.done")
        )
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await session.rollback()
        assert await asyncio.wait_for(waiting, timeout=5) is True

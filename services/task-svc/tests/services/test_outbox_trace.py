"""The trace of a change travels with its outbox event to notify-svc (`traceparent`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from task_svc.core.config import get_settings
from task_svc.models import TaskStatus
from task_svc.services.events import TRACE_CONTEXT_KEY, TaskSnapshot, events_for_change
from task_svc.services.outbox_relay import OutboxRelay
from taskhub_common.tracing import configure_tracing, current_trace_id, instrument_clients

SNAPSHOT = TaskSnapshot(
    id=uuid.uuid4(),
    title="t",
    owner_id=uuid.uuid4(),
    assignee_id=None,
    webhook_url=None,
    due_at=None,
    status=TaskStatus.TODO,
)


def _done_events() -> list[Any]:
    return events_for_change(SNAPSHOT, replace(SNAPSHOT, status=TaskStatus.DONE))


def _relay(session: AsyncSession, notify_url: str) -> OutboxRelay:
    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with session.begin_nested():
            yield session

    return OutboxRelay(
        transaction=transaction,
        client=httpx.AsyncClient(timeout=2.0),
        notify_url=notify_url,
        internal_token=get_settings().internal_token.get_secret_value(),
    )


def test_an_event_outside_any_trace_carries_none() -> None:
    [event] = _done_events()
    assert TRACE_CONTEXT_KEY not in event.payload


async def test_the_relay_continues_the_trace_of_the_change(
    session: AsyncSession, loopback: Any
) -> None:
    configure_tracing("task-svc")
    instrument_clients()
    with trace.get_tracer("test").start_as_current_span("PATCH /tasks/{task_id}"):
        [event] = _done_events()
        change_trace = current_trace_id()
    assert change_trace is not None
    carried = event.payload[TRACE_CONTEXT_KEY]["traceparent"]
    assert carried.split("-")[1] == change_trace

    session.add(event)
    await session.flush()
    await _relay(session, loopback.url).deliver_due()  # long after the request's span ended

    [post] = [r for r in loopback.requests if r["headers"]["Idempotency-Key"] == str(event.id)]
    assert post["headers"]["traceparent"].split("-")[1] == change_trace

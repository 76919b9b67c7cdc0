"""Which changes produce which events (pure rules, no database)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from task_svc.models import TaskStatus
from task_svc.services.events import (
    EventType,
    TaskSnapshot,
    events_for_change,
)

DONE = EventType.TASK_DONE
DEADLINE = EventType.TASK_DEADLINE_CHANGED

DUE = datetime(2031, 1, 1, 9, 0, tzinfo=UTC)
BASE = TaskSnapshot(
    id=uuid.uuid4(),
    title="t",
    owner_id=uuid.uuid4(),
    assignee_id=None,
    webhook_url=None,
    due_at=None,
    status=TaskStatus.TODO,
)
WITH_DUE = replace(BASE, due_at=DUE)


def _types(before: TaskSnapshot | None, after: TaskSnapshot | None) -> list[str]:
    return [event.event_type for event in events_for_change(before, after)]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, BASE, []),
        (None, WITH_DUE, [DEADLINE]),
        (None, replace(WITH_DUE, status=TaskStatus.DONE), []),
        (BASE, replace(BASE, status=TaskStatus.DONE), [DONE]),
        (BASE, replace(BASE, status=TaskStatus.IN_PROGRESS), []),
        (
            WITH_DUE,
            replace(WITH_DUE, status=TaskStatus.DONE),
            [DONE, DEADLINE],
        ),
        (replace(BASE, status=TaskStatus.DONE), replace(BASE, status=TaskStatus.DONE), []),
        (
            replace(WITH_DUE, status=TaskStatus.DONE),
            replace(WITH_DUE, status=TaskStatus.TODO),
            [DEADLINE],
        ),
        (
            WITH_DUE,
            replace(WITH_DUE, status=TaskStatus.CANCELED),
            [DEADLINE],
        ),
        (BASE, WITH_DUE, [DEADLINE]),
        (
            WITH_DUE,
            replace(WITH_DUE, due_at=datetime(2031, 2, 1, tzinfo=UTC)),
            [DEADLINE],
        ),
        (WITH_DUE, BASE, [DEADLINE]),
        (WITH_DUE, replace(WITH_DUE, assignee_id=uuid.uuid4()), [DEADLINE]),
        (BASE, replace(BASE, assignee_id=uuid.uuid4(), title="x"), []),
        (WITH_DUE, None, [DEADLINE]),
        (BASE, None, []),
    ],
)
def test_events_for_change(
    before: TaskSnapshot | None, after: TaskSnapshot | None, expected: list[str]
) -> None:
    assert _types(before, after) == expected


def test_payload_shape_and_ids() -> None:
    after = replace(WITH_DUE, status=TaskStatus.DONE, assignee_id=uuid.uuid4())
    done, deadline = events_for_change(WITH_DUE, after)

    assert done.payload["event_id"] == str(done.id)
    assert done.task_id == after.id
    assert done.payload["type"] == "task.done"
    assert datetime.fromisoformat(done.payload["occurred_at"]).tzinfo is not None
    assert done.payload["task"] == {
        "id": str(after.id),
        "title": "t",
        "owner_id": str(after.owner_id),
        "assignee_id": str(after.assignee_id),
        "webhook_url": None,
        "due_at": "2031-01-01T09:00:00Z",
        "status": "done",
    }
    assert deadline.payload["task"]["status"] == "done"
    assert done.id != deadline.id


def test_a_deleted_task_is_reported_without_a_deadline() -> None:
    (event,) = events_for_change(WITH_DUE, None)
    assert event.payload["task"]["due_at"] is None
    assert event.payload["task"]["id"] == str(WITH_DUE.id)

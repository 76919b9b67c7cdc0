"""The events a task change produces, as outbox rows (the contract is in the README, "Events")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from task_svc.models import OPEN_STATUSES, OutboxEvent, Task, TaskStatus
from task_svc.repositories.tasks import TaskRecord
from taskhub_common.task_events import TRACE_CONTEXT_KEY, EventTask, EventType, TaskEvent
from taskhub_common.tracing import inject_trace_context

__all__ = ["TRACE_CONTEXT_KEY", "EventType", "TaskSnapshot", "events_for_change"]


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """The fields of a task that events carry, frozen at one moment."""

    id: uuid.UUID
    title: str
    owner_id: uuid.UUID
    assignee_id: uuid.UUID | None
    webhook_url: str | None
    due_at: datetime | None
    status: TaskStatus

    @classmethod
    def of(cls, task: Task | TaskRecord) -> TaskSnapshot:
        return cls(
            id=task.id,
            title=task.title,
            owner_id=task.owner_id,
            assignee_id=task.assignee_id,
            webhook_url=task.webhook_url,
            due_at=task.due_at,
            status=task.status,
        )

    def reminder(self) -> tuple[object, ...] | None:
        """What a deadline reminder for this task depends on; None when it needs none."""
        if self.due_at is None or self.status not in OPEN_STATUSES:
            return None
        return (self.due_at, self.assignee_id, self.title, self.webhook_url)

    def as_event_task(self) -> EventTask:
        return EventTask(
            id=self.id,
            title=self.title,
            owner_id=self.owner_id,
            assignee_id=self.assignee_id,
            webhook_url=self.webhook_url,
            due_at=self.due_at,
            status=self.status.value,
        )


def _event(event_type: EventType, snapshot: TaskSnapshot) -> OutboxEvent:
    event_id = uuid.uuid4()
    # Built through the shared contract: what task-svc sends is what notify-svc accepts.
    event = TaskEvent(
        event_id=str(event_id),
        type=event_type,
        occurred_at=datetime.now(UTC),
        task=snapshot.as_event_task(),
    )
    payload: dict[str, Any] = event.model_dump(mode="json")
    # The trace of the request that made the change: the relay continues it, however late
    # it delivers, so the notification work shows up in that request's trace.
    trace_context = inject_trace_context()
    if trace_context:
        payload[TRACE_CONTEXT_KEY] = trace_context
    return OutboxEvent(id=event_id, event_type=event_type, task_id=snapshot.id, payload=payload)


def events_for_change(before: TaskSnapshot | None, after: TaskSnapshot | None) -> list[OutboxEvent]:
    """Events for one task going from `before` to `after` (None: not existing).

    - `task.done` when an existing task enters `done` (done -> done is no transition, and
      a task created as `done` completed nothing);
    - `task.deadline_changed` when the reminder the task implies changes: a deadline set,
      moved or cleared, the task closed or reopened, deleted, or re-assigned/renamed while
      a reminder is pending. A deleted task is reported with `due_at: null`.
    """
    events: list[OutboxEvent] = []
    if (
        before is not None
        and after is not None
        and before.status is not TaskStatus.DONE
        and after.status is TaskStatus.DONE
    ):
        events.append(_event(EventType.TASK_DONE, after))
    old_reminder = before.reminder() if before else None
    new_reminder = after.reminder() if after else None
    if old_reminder != new_reminder:
        if after is not None:
            events.append(_event(EventType.TASK_DEADLINE_CHANGED, after))
        elif before is not None:
            events.append(_event(EventType.TASK_DEADLINE_CHANGED, replace(before, due_at=None)))
    return events

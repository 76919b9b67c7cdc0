"""The task events task-svc's outbox relay sends and notify-svc applies: one definition for
the producer and the consumer, so the two cannot drift (services/task-svc/README.md, "Events").

task-svc builds every payload through `TaskEvent` (so it never sends what notify-svc would
refuse); notify-svc validates what arrives with the same models, ignoring fields it does not
know, so a field task-svc adds later never breaks delivery.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from taskhub_common.text import Instant, SafeText
from taskhub_common.urls import HttpUrlText

# The length bounds run inside SafeText's check, so a lone surrogate gets its own message.
Title = Annotated[str, StringConstraints(max_length=500), SafeText]
Status = Annotated[str, StringConstraints(max_length=32), SafeText]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200), SafeText]
# The payload key holding the `traceparent` of the change that produced the event.
TRACE_CONTEXT_KEY = "trace_context"


class EventType(StrEnum):
    # An existing task entered `done`.
    TASK_DONE = "task.done"
    # The reminder a task implies changed: a deadline set, moved or cleared, the task
    # closed, reopened, re-assigned or renamed while a reminder is pending, or deleted
    # (sent with `due_at: null`).
    TASK_DEADLINE_CHANGED = "task.deadline_changed"


class EventTask(BaseModel):
    """The task as it was when the event happened."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    title: Title = ""
    owner_id: uuid.UUID
    assignee_id: uuid.UUID | None = None
    # Checked as completely as a client's URL: an unusable one must not reach the worker.
    webhook_url: HttpUrlText | None = None
    due_at: Instant | None = None
    status: Status = "todo"

    @property
    def recipient_id(self) -> uuid.UUID:
        """Who is told about the task: its assignee, or its owner when unassigned."""
        return self.assignee_id or self.owner_id


class TaskEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: EventId
    type: EventType
    occurred_at: Instant
    task: EventTask

"""Events the outbox relay of task-svc sends to `/internal/events` and `/internal/events/batch`."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from taskhub_common.errors import ErrorBody
from taskhub_common.text import Instant, SafeText
from taskhub_common.urls import HttpUrlText

# The length bounds run inside SafeText's check, so a lone surrogate gets its own message.
Title = Annotated[str, StringConstraints(max_length=500), SafeText]
Status = Annotated[str, StringConstraints(max_length=32), SafeText]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200), SafeText]


class EventType(StrEnum):
    TASK_DONE = "task.done"
    TASK_DEADLINE_CHANGED = "task.deadline_changed"
    TASK_DELETED = "task.deleted"


# Task statuses after which no reminder is due.
CLOSED_TASK_STATUSES = frozenset({"done", "canceled"})


class EventTask(BaseModel):
    # Fields task-svc adds later must not break delivery: unknown ones are ignored.
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


class EventAccepted(BaseModel):
    event_id: str
    duplicate: bool
    job_ids: list[uuid.UUID]


# Most events one batch may carry: task-svc's largest relay batch (TASKS_OUTBOX_BATCH_SIZE).
MAX_BATCH_EVENTS = 1000


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Each event is checked on its own (services.events.parse_batch), so one malformed
    # event is refused alone and the others of the batch are still applied.
    events: Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]


class EventResult(BaseModel):
    """One event's answer, in the order of the request: the status the single-event
    endpoint would have answered (202 applied, 200 a repeat, 422 refused, 503 retry later)."""

    event_id: str | None
    status: int
    job_ids: list[uuid.UUID] = []
    error: ErrorBody | None = None


class EventBatchResult(BaseModel):
    results: list[EventResult]

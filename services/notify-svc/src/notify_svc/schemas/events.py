"""What `/internal/events` and `/internal/events/batch` take and answer. The events
themselves are taskhub_common.task_events, shared with task-svc, their producer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from taskhub_common.errors import ErrorBody

# Task statuses after which no reminder is due.
CLOSED_TASK_STATUSES = frozenset({"done", "canceled"})


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

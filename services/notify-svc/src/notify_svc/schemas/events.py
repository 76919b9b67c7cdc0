"""The events task-svc delivers to `/internal/events` (its outbox relay)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from notify_svc.schemas.common import NoNulStr


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
    title: Annotated[NoNulStr, Field(max_length=500)] = ""
    owner_id: uuid.UUID
    assignee_id: uuid.UUID | None = None
    webhook_url: Annotated[NoNulStr, Field(max_length=2048)] | None = None
    due_at: AwareDatetime | None = None
    status: Annotated[NoNulStr, Field(max_length=32)] = "todo"

    @property
    def recipient_id(self) -> uuid.UUID:
        """Who is told about the task: its assignee, or its owner when unassigned."""
        return self.assignee_id or self.owner_id


class TaskEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: Annotated[NoNulStr, Field(min_length=1, max_length=200)]
    type: EventType
    occurred_at: AwareDatetime
    task: EventTask


class EventAccepted(BaseModel):
    event_id: str
    duplicate: bool
    job_ids: list[uuid.UUID]

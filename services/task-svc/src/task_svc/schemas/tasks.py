"""Request and response schemas of the task API (inputs forbid unknown fields)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)

from task_svc.models import TaskPriority, TaskStatus
from taskhub_common.pages import Page
from taskhub_common.text import Instant, NotNullable, SafeText, instant_description, refuse_nul
from taskhub_common.urls import HttpUrlText

MAX_TAGS_PER_TASK = 20
MAX_TAG_LENGTH = 50
MAX_PAGE_SIZE = 100
MAX_BULK_IDS = 100
# Bounds OFFSET so a huge page number is a 422, not a database overflow.
MAX_PAGE = 1_000_000
# One fixed timestamp format everywhere; the list query renders the same one in SQL.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

TAG_FILTER_DESCRIPTION = (
    "Repeatable. A task matches when it has ALL of the given tags "
    "(tags are compared after trimming and lower-casing)."
)


def normalize_tag(value: str) -> str:
    """A tag as stored: trimmed and lower-cased, 1..50 characters."""
    tag = refuse_nul(value).strip().lower()
    if not tag:
        raise ValueError("a tag must not be empty")
    if len(tag) > MAX_TAG_LENGTH:
        raise ValueError(f"a tag must have at most {MAX_TAG_LENGTH} characters")
    return tag


def normalize_tags(values: list[str]) -> list[str]:
    """Unique normalized tags, sorted."""
    tags = sorted({normalize_tag(value) for value in values})
    if len(tags) > MAX_TAGS_PER_TASK:
        raise ValueError(f"a task has at most {MAX_TAGS_PER_TASK} tags")
    return tags


def _utc_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


# No NUL and not blank, declared in the schema as well as checked.
NOT_BLANK_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
# SafeText refuses lone surrogates first (the pattern engine cannot read them).
Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK_PATTERN
    ),
    SafeText,
]
Description = Annotated[str, StringConstraints(max_length=10_000), SafeText]
WebhookUrl = HttpUrlText
# Declared in the schema as validated: no NUL, not blank, at most 50 characters as sent.
TagText = Annotated[
    str, StringConstraints(max_length=MAX_TAG_LENGTH, pattern=NOT_BLANK_PATTERN), SafeText
]
Tags = Annotated[list[TagText], Field(max_length=100), AfterValidator(normalize_tags)]
# ISO 8601 text (never a Unix timestamp) in the supported range, in UTC once validated.
DueAt = Instant | None
Timestamp = Annotated[datetime, PlainSerializer(_utc_timestamp, return_type=str)]


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None
    status: TaskStatus = TaskStatus.TODO
    priority: TaskPriority = TaskPriority.NORMAL
    due_at: DueAt = None
    tags: Tags = []
    assignee_id: uuid.UUID | None = None
    webhook_url: WebhookUrl | None = None


class TaskUpdate(BaseModel):
    """A partial update: only the fields present in the body change."""

    model_config = ConfigDict(extra="forbid")

    # Absent means "unchanged"; null is refused (`_not_null`), and the schema says so.
    title: Annotated[Title | None, NotNullable] = None
    description: Description | None = None
    status: Annotated[TaskStatus | None, NotNullable] = None
    priority: Annotated[TaskPriority | None, NotNullable] = None
    due_at: DueAt = None
    tags: Annotated[Tags | None, NotNullable] = None
    assignee_id: uuid.UUID | None = None
    webhook_url: WebhookUrl | None = None

    @field_validator("title", "status", "priority", "tags", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Defaults are not validated, so this runs only for fields the client sent.
        if value is None:
            raise ValueError("must not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_at: Timestamp | None
    tags: list[str]
    assignee_id: uuid.UUID | None
    owner_id: uuid.UUID
    webhook_url: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_names(cls, value: Any) -> Any:
        # From the ORM the tags are Tag rows; the API shows their names.
        return [getattr(tag, "name", tag) for tag in value]


class TaskPage(Page[TaskRead]):
    """A page of tasks."""


class TaskListQuery(BaseModel):
    """Filters and paging of GET /tasks (list parameters are repeatable)."""

    status: list[TaskStatus] = Field(default=[], description="Repeatable; any of the statuses.")
    tag: Annotated[list[TagText], Field(max_length=MAX_TAGS_PER_TASK)] = Field(
        default=[], description=TAG_FILTER_DESCRIPTION
    )
    assignee_id: uuid.UUID | None = None
    due_before: DueAt = Field(default=None, description=instant_description("due_at < this."))
    due_after: DueAt = Field(default=None, description=instant_description("due_at > this."))
    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)

    @field_validator("tag")
    @classmethod
    def _normalized_tags(cls, value: list[str]) -> list[str]:
        return sorted({normalize_tag(tag) for tag in value})

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


class BulkStatusRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=MAX_BULK_IDS)]
    status: TaskStatus

    @field_validator("ids")
    @classmethod
    def _unique_ids(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("ids must be unique")
        return value


class BulkStatusResult(BaseModel):
    updated: list[uuid.UUID]
    not_found: list[uuid.UUID]

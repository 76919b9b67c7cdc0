"""Tasks, their tags and the task<->tag link table."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Enum,
    FetchedValue,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from task_svc.models.base import Base


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELED = "canceled"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


# A task is "open" (it can still be late, so it may have a reminder) in these states.
OPEN_STATUSES = frozenset({TaskStatus.TODO, TaskStatus.IN_PROGRESS})


def _pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda members: [m.value for m in members])


task_tags = Table(
    "task_tags",
    Base.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The tag filter starts from the tag: (tag_id) -> task ids.
    Index("ix_task_tags_tag_id_task_id", "tag_id", "task_id"),
)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # Default listing order per visibility path: owned, assigned, everything (admin).
        Index("ix_tasks_owner_created", "owner_id", "created_at", "id"),
        Index("ix_tasks_assignee_created", "assignee_id", "created_at", "id"),
        Index("ix_tasks_created", "created_at", "id"),
        Index("ix_tasks_status", "status"),
        Index("ix_tasks_due_at", "due_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(
        _pg_enum(TaskStatus, "task_status"), default=TaskStatus.TODO
    )
    priority: Mapped[TaskPriority] = mapped_column(
        _pg_enum(TaskPriority, "task_priority"), default=TaskPriority.NORMAL
    )
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A user id of auth-svc: no foreign key, that table lives in another database.
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    owner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # The task as the API shows it (TaskRead's JSON), rendered by the database on every
    # write of the task or of its tag links: a list page aggregates these instead of
    # rendering every row (see read_models.task_list). Written only by the database.
    item: Mapped[dict[str, Any]] = mapped_column(
        JSON, deferred=True, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )

    # lazy="raise": every read path says how it loads tags, so no N+1 sneaks in.
    tags: Mapped[list[Tag]] = relationship(secondary=task_tags, lazy="raise", order_by=Tag.name)


# Counters per user: concurrent writes of one user's tasks bump different slots.
LIST_VERSION_SLOTS = 32
# Status counters have a slot per last byte of a task's id: a kept page is known to show
# a changed task by the slots of the tasks it shows, and finer slots mistake it less often.
STATUS_VERSION_SLOTS = 256


class TaskListVersion(Base):
    """How often the set of tasks a user sees has changed: the key of their cached lists.

    A user's version is the sum of their slots. Every write adds one to one slot of each
    user whose list it changes (owner, old and new assignee), in its own transaction: the
    sum only grows, so two snapshots with the same sum saw the same committed writes, and
    a list read in one snapshot together with the sum belongs to exactly that version.
    One row per user would serialise all of that user's writes on it until each commits.
    """

    __tablename__ = "task_list_versions"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class TaskStatusVersion(Base):
    """How often tasks of one status have entered or left a user's list.

    A change of status alone bumps these counters (of the old and the new status, in the
    task's slot) instead of the user's `TaskListVersion`: a kept page that filters on
    neither status, and shows no task of that slot, is still exact (see
    `read_models.task_list`). `STATUS_VERSION_SLOTS` slots: concurrent status changes of
    one user's tasks mostly bump different rows, and a page seldom shares a slot with a
    changed task it does not show.
    """

    __tablename__ = "task_status_versions"

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    status: Mapped[TaskStatus] = mapped_column(
        _pg_enum(TaskStatus, "task_status"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)

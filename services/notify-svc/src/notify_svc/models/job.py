"""Notification jobs, their dead letters and the emulated outbox of sent e-mails."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from notify_svc.models.base import Base


class JobType(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class JobKind(StrEnum):
    MANUAL = "manual"
    TASK_DONE = "task_done"
    REMINDER = "reminder"


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    OK = "ok"
    FAILED = "failed"
    CANCELED = "canceled"


def _one_of(column: str, enum: type[StrEnum]) -> str:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class Job(Base):
    """One e-mail or webhook to deliver; PostgreSQL, not Redis, holds its state."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_one_of("type", JobType), name="type"),
        CheckConstraint(_one_of("kind", JobKind), name="kind"),
        CheckConstraint(_one_of("status", JobStatus), name="status"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_jobs_owner_id_idempotency_key"),
        Index("ix_jobs_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_jobs_task_owner_id_created_at", "task_owner_id", "created_at"),
        Index("ix_jobs_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The user the job belongs to (for task_done/reminder e-mails: the recipient).
    owner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # The owner of the task the job was created for, who also sees it.
    task_owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), index=True)
    event_id: Mapped[str | None] = mapped_column(String(200), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When the attempt in flight started (committed before the request goes out); None
    # once its outcome is recorded. Set for longer than the attempt lease: its worker died.
    attempt_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class FailedNotification(Base):
    """A dead letter: a job that exhausted its attempts (one row per job, at most)."""

    __tablename__ = "failed_notifications"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class SentEmail(Base):
    """The emulated outbox: what the e-mail backend "sent" (recipient hashed, no raw address)."""

    __tablename__ = "sent_emails"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    recipient_hash: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

"""Deadline reminders: one per task, sent once `remind_at` has come (by the beat scan)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from notify_svc.models.base import Base


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        # The scan reads only reminders not yet sent, by time.
        Index(
            "ix_reminders_remind_at_unsent", "remind_at", postgresql_where=text("sent_at IS NULL")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    task_title: Mapped[str] = mapped_column(String(500))
    recipient_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    task_owner_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remind_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    # When the event that last changed this row happened: older events are ignored.
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

"""The transactional outbox: events written with the change that caused them, relayed later."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from task_svc.models.base import Base


class OutboxEvent(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The relay only ever looks at pending rows (neither delivered nor parked): keep
        # those indexes tiny.
        Index(
            "ix_outbox_pending",
            "created_at",
            "id",
            postgresql_where=text("delivered_at IS NULL AND parked_at IS NULL"),
        ),
        Index(
            "ix_outbox_pending_task",
            "task_id",
            "created_at",
            postgresql_where=text("delivered_at IS NULL AND parked_at IS NULL"),
        ),
        Index("ix_outbox_parked", "parked_at", postgresql_where=text("parked_at IS NOT NULL")),
    )

    # Also the event id and the Idempotency-Key notify-svc deduplicates on.
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(64))
    # Events of one task are delivered in creation order (a reminder must end in its last state).
    task_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # clock_timestamp(), not now(): several events of one transaction keep their order.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # When notify-svc accepted the event (the time of the send, not of the batch).
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when notify-svc rejected the event for good: it is no longer sent and no longer
    # holds back its task's later events; an administrator may requeue it.
    parked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

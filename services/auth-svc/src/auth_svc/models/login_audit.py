"""The `login_audit` table: every login attempt, successful or not, with ip and user agent."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from auth_svc.models.base import Base

USER_AGENT_MAX_LENGTH = 256


class LoginAudit(Base):
    __tablename__ = "login_audit"
    __table_args__ = (
        # Both listings are newest first: all rows, or one user's rows.
        Index("ix_login_audit_created_at_id", "created_at", "id"),
        Index("ix_login_audit_user_id_created_at_id", "user_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # NULL for attempts with an e-mail that matches no account.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX_LENGTH))
    success: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

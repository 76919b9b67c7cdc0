"""The `api_keys` table: integrations' keys, stored as an HMAC of the secret, never the secret.

Revoked keys stay (with who revoked them and when): the listing is the keys' audit.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Uuid, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from auth_svc.models.base import Base

API_KEY_NAME_MAX_LENGTH = 100


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        # Counting a user's live keys (the per-user limit) and listing them.
        Index("ix_api_keys_user_id_created_at", "user_id", "created_at"),
        Index("ix_api_keys_live_user_id", "user_id", postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(API_KEY_NAME_MAX_LENGTH))
    # HMAC-SHA256 (hex) of the whole key under AUTH_API_KEY_HASH_SECRET; looked up by it.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key ("thk_Ab12"), so an owner can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )

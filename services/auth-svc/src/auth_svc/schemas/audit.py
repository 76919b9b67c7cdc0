"""Login audit rows as administrators read them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from auth_svc.schemas.common import Page


def _as_text(value: Any) -> Any:
    # The driver returns `inet` values as ipaddress objects.
    return None if value is None else str(value)


class LoginAuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID | None
    ip: Annotated[str | None, BeforeValidator(_as_text)]
    user_agent: str | None
    success: bool
    created_at: datetime


LoginAuditPage = Page[LoginAuditRead]

"""What administrators see of the outbox: events notify-svc rejected for good."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ParkedEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_type: str
    task_id: uuid.UUID
    attempts: int
    last_error: str | None
    created_at: datetime
    parked_at: datetime

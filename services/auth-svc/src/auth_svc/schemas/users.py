"""User representations: the public profile, the admin role change, the internal lookup."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from auth_svc.schemas.common import InputModel, Page
from taskhub_common.auth import Role


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role: Role
    created_at: datetime


UserPage = Page[UserRead]


class RoleUpdate(InputModel):
    role: Role

"""Helpers of the repository tests; their users come from the suite's `make_user`, `user`
and `admin` fixtures (tests/conftest.py), stored in the rolled-back session."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from taskhub_common.auth import Role


class StoredUser(Protocol):
    """What these tests read of a user the fixtures stored."""

    id: uuid.UUID
    email: str
    role: Role


NewUser = Callable[..., Awaitable[StoredUser]]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"

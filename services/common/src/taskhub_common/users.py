"""auth-svc's internal user lookup, `GET /internal/users/{id}`: the answer's shape, defined
once for auth-svc and its callers, and the one way every other service asks it (an admin
claim confirmed, an assignee checked, a recipient's address found)."""

from __future__ import annotations

import uuid

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from taskhub_common.auth import Role
from taskhub_common.internal import AuthServiceEndpoint


class InternalUser(BaseModel):
    """What other services need of a user: existence, role, and the address to notify."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role: Role

    @field_validator("role", mode="before")
    @classmethod
    def _least_privilege(cls, value: object) -> Role:
        # Anything but an explicit "admin" grants nothing more than a plain user has.
        return Role.ADMIN if value == Role.ADMIN.value else Role.USER


class UserLookupFailed(Exception):
    """auth-svc gave no usable answer (unreachable, an error status, an unexpected body):
    the caller answers 503 or tries again later, and never guesses."""


async def look_up_user(
    auth: AuthServiceEndpoint,
    user_id: uuid.UUID,
    *,
    timeout_seconds: float | None = None,
) -> InternalUser | None:
    """The user auth-svc knows by `user_id`, None when it knows no such user.

    `timeout_seconds` overrides the client's own timeout for this call.
    """
    url = auth.url(f"/internal/users/{user_id}")
    try:
        if timeout_seconds is None:
            response = await auth.client.get(url, headers=auth.headers)
        else:
            response = await auth.client.get(url, headers=auth.headers, timeout=timeout_seconds)
    except httpx.HTTPError as exc:
        raise UserLookupFailed(type(exc).__name__) from exc
    if response.status_code == httpx.codes.NOT_FOUND:
        return None
    if response.status_code != httpx.codes.OK:
        raise UserLookupFailed(f"HTTP {response.status_code}")
    try:
        return InternalUser.model_validate_json(response.content)
    except ValidationError as exc:
        raise UserLookupFailed("an unexpected body") from exc

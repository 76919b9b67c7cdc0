"""API keys as their owners and admins create and read them (the secret only once)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from auth_svc.models.api_key import API_KEY_NAME_MAX_LENGTH
from auth_svc.schemas.common import InputModel, Page, SafeText
from taskhub_common.api_keys import Scope
from taskhub_common.text import Instant, instant_description


def _in_the_future(value: datetime | None) -> datetime | None:
    if value is not None and value <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return value


def _distinct(scopes: list[Scope]) -> list[Scope]:
    return sorted(set(scopes))


KeyName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=API_KEY_NAME_MAX_LENGTH, strip_whitespace=True),
    SafeText,
]


class ApiKeyCreate(InputModel):
    name: KeyName
    scopes: Annotated[
        list[Scope],
        Field(min_length=1, max_length=len(Scope), description="At least one; no admin scope."),
        AfterValidator(_distinct),
    ]
    expires_at: Annotated[
        Instant | None,
        AfterValidator(_in_the_future),
        Field(description=instant_description("When the key stops working; none: never.")),
    ] = None


class ApiKeyRead(BaseModel):
    """A key without its secret: the owner's and admins' audit of it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[Scope]
    expires_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret: shown in this answer only, never again.")


ApiKeyPage = Page[ApiKeyRead]


class ApiKeyVerify(InputModel):
    key: Annotated[str, SafeText, StringConstraints(max_length=200)]


class ApiKeyGrantRead(BaseModel):
    """What a service needs of a live key (internal API)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    scopes: list[Scope]
    expires_at: datetime | None

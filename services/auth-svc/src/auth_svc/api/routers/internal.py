"""Service-to-service lookups under `/internal` (never routed by the gateway)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from auth_svc.api.deps import DbSession, internal_caller
from auth_svc.schemas.api_keys import ApiKeyGrantRead, ApiKeyVerify
from auth_svc.services import api_keys as key_service
from auth_svc.services import users as user_service
from taskhub_common.errors import error_responses
from taskhub_common.users import InternalUser

# Unpublished: the OpenAPI document describes the public API only (the gateway never
# routes /internal/, and its shape is no business of outside callers).
router = APIRouter(
    prefix="/internal",
    tags=["internal"],
    dependencies=[internal_caller],
    include_in_schema=False,
)


@router.get(
    "/users/{user_id}", response_model=InternalUser, responses=error_responses(401, 404, 422)
)
async def get_user(user_id: uuid.UUID, session: DbSession) -> Any:
    """A user's id, e-mail, name and role (task-svc checks assignees, notify-svc mails them)."""
    return await user_service.get_user(session, user_id=user_id)


@router.post(
    "/api-keys/verify", response_model=ApiKeyGrantRead, responses=error_responses(401, 404, 422)
)
async def verify_api_key(body: ApiKeyVerify, session: DbSession) -> Any:
    """The live key a secret belongs to (owner, scopes, expiry), or 404; records its use.

    The secret comes in the body, never in the URL: URLs are logged.
    """
    return await key_service.verify_key(session, key=body.key)

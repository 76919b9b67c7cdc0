"""API keys: each user's own under /auth/api-keys, any user's for admins under /auth/users."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from auth_svc.api.deps import AdminUser, CurrentUser, DbSession, Limit, PageNumber
from auth_svc.schemas.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead
from auth_svc.services import api_keys as key_service
from taskhub_common.errors import error_responses

router = APIRouter(prefix="/auth", tags=["api-keys"])


@router.post(
    "/api-keys",
    name="create",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=error_responses(401, 409, 422),
)
async def create_api_key(body: ApiKeyCreate, user: CurrentUser, session: DbSession) -> Any:
    """A key for an integration; its secret is in this answer only. Needs an access token."""
    key, secret = await key_service.create_key(
        session, principal=user, name=body.name, scopes=body.scopes, expires_at=body.expires_at
    )
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)


@router.get(
    "/api-keys", name="list", response_model=ApiKeyPage, responses=error_responses(401, 422)
)
async def list_api_keys(
    user: CurrentUser, session: DbSession, page: PageNumber = 1, limit: Limit = 20
) -> Any:
    """Your keys newest first, revoked ones included, with `last_used_at`; never a secret."""
    items, total = await key_service.list_keys(
        session, user_id=user.user_id, page=page, limit=limit
    )
    return ApiKeyPage(
        items=[ApiKeyRead.model_validate(item) for item in items],
        total=total,
        page=page,
        limit=limit,
    )


@router.delete(
    "/api-keys/{key_id}",
    name="revoke",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 422),
)
async def revoke_api_key(key_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    """Revoke one of your keys (repeatable); services refuse it within their cache time."""
    await key_service.revoke_key(session, user_id=user.user_id, key_id=key_id, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/users/{user_id}/api-keys",
    name="list_of_user",
    response_model=ApiKeyPage,
    responses=error_responses(401, 403, 404, 422),
)
async def list_user_api_keys(
    user_id: uuid.UUID,
    admin: AdminUser,
    session: DbSession,
    page: PageNumber = 1,
    limit: Limit = 20,
) -> Any:
    """A user's keys, as the user sees them (admins only)."""
    items, total = await key_service.list_keys_of_user(
        session, user_id=user_id, page=page, limit=limit
    )
    return ApiKeyPage(
        items=[ApiKeyRead.model_validate(item) for item in items],
        total=total,
        page=page,
        limit=limit,
    )


@router.delete(
    "/users/{user_id}/api-keys/{key_id}",
    name="revoke_of_user",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
async def revoke_user_api_key(
    user_id: uuid.UUID, key_id: uuid.UUID, admin: AdminUser, session: DbSession
) -> Response:
    """Revoke any user's key (admins only); the admin is recorded as `revoked_by`."""
    await key_service.revoke_key(session, user_id=user_id, key_id=key_id, actor=admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

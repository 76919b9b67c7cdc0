"""API keys: created, listed and revoked by their owners (and admins), verified for services."""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.core.config import get_settings
from auth_svc.models.api_key import ApiKey
from auth_svc.repositories import api_keys as key_repository
from auth_svc.services.errors import ApiKeyLimitReached, ApiKeyNotFound, UserNotFound
from taskhub_common.api_keys import (
    DISPLAY_PREFIX_LENGTH,
    Scope,
    generate_key,
    is_well_formed,
    key_hash,
)
from taskhub_common.auth import INVALID_TOKEN_MESSAGE, Principal
from taskhub_common.errors import Unauthorized

logger = logging.getLogger(__name__)


def _hash(key: str) -> str:
    return key_hash(key, get_settings().api_key_hash_secret.get_secret_value().encode())


async def create_key(
    session: AsyncSession,
    *,
    principal: Principal,
    name: str,
    scopes: Sequence[Scope],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """A new key of the caller's and its secret (returned once, stored only as a hash).

    The owner's row is locked first, so concurrent creations cannot pass the limit together.
    """
    if not await key_repository.lock_owner(session, principal.user_id):
        raise Unauthorized(INVALID_TOKEN_MESSAGE)
    limit = get_settings().api_key_max_per_user
    if await key_repository.count_live(session, principal.user_id) >= limit:
        raise ApiKeyLimitReached
    secret = generate_key()
    key = await key_repository.add(
        session,
        user_id=principal.user_id,
        name=name,
        key_hash=_hash(secret),
        prefix=secret[:DISPLAY_PREFIX_LENGTH],
        scopes=[scope.value for scope in scopes],
        expires_at=expires_at,
    )
    logger.info(
        "api key created",
        extra={"user_id": str(principal.user_id), "key_id": str(key.id), "scopes": key.scopes},
    )
    return key, secret


async def list_keys(
    session: AsyncSession, *, user_id: uuid.UUID, page: int, limit: int
) -> tuple[Sequence[ApiKey], int]:
    """The user's keys newest first, revoked and expired ones too (never a secret)."""
    return await key_repository.page(
        session, user_id=user_id, offset=(page - 1) * limit, limit=limit
    )


async def list_keys_of_user(
    session: AsyncSession, *, user_id: uuid.UUID, page: int, limit: int
) -> tuple[Sequence[ApiKey], int]:
    """An admin's view of a user's keys; 404 for an unknown user."""
    if not await key_repository.lock_owner(session, user_id):
        raise UserNotFound
    return await list_keys(session, user_id=user_id, page=page, limit=limit)


async def revoke_key(
    session: AsyncSession, *, user_id: uuid.UUID, key_id: uuid.UUID, actor: Principal
) -> None:
    """Revoke a key of `user_id` (repeatable); 404 when that user has no such key.

    Services stop accepting it within their key cache's lifetime.
    """
    if await key_repository.revoke(session, user_id=user_id, key_id=key_id, actor_id=actor.user_id):
        logger.info(
            "api key revoked",
            extra={"user_id": str(user_id), "key_id": str(key_id), "actor_id": str(actor.user_id)},
        )
        return
    if await key_repository.get_of_user(session, user_id=user_id, key_id=key_id) is None:
        raise ApiKeyNotFound


async def verify_key(session: AsyncSession, *, key: str) -> ApiKey:
    """The live key this secret belongs to, else `ApiKeyNotFound`; records its use.

    A malformed key (prefix, length, alphabet, checksum) is refused without a query. A
    well-formed one is found by its HMAC alone: how much of a wrong key matches a real one
    changes nothing in what the database is asked, and the stored hash is compared in
    constant time. `last_used_at` is written at most once per interval.
    """
    if not is_well_formed(key):
        raise ApiKeyNotFound
    digest = _hash(key)
    found = await key_repository.find_live(session, digest)
    if found is None or not hmac.compare_digest(found.key_hash, digest):
        raise ApiKeyNotFound
    interval = get_settings().api_key_last_used_interval_seconds
    await key_repository.mark_used(session, found.id, every_seconds=interval)
    return found

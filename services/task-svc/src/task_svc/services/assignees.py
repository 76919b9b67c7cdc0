"""Does a user id exist? Asked of auth-svc's internal API, answers cached in Redis."""

from __future__ import annotations

import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from task_svc.services.errors import UnknownAssignee, UserDirectoryUnavailable
from taskhub_common.internal import AuthServiceEndpoint
from taskhub_common.users import UserLookupFailed, look_up_user

logger = logging.getLogger(__name__)

_CACHE_PREFIX = "tasks:user-exists:"
_EXISTS, _MISSING = b"1", b"0"


class UserDirectory:
    """Existence checks against auth-svc `GET /internal/users/{id}`.

    Both answers are cached (a missing user for a short time only: it may register soon).
    Redis trouble only costs the cache; auth-svc trouble is a 503, never a guess.
    """

    def __init__(
        self,
        auth: AuthServiceEndpoint,
        *,
        redis: Redis,
        positive_ttl_seconds: int,
        negative_ttl_seconds: int,
    ) -> None:
        self.auth = auth
        self.redis = redis
        self.positive_ttl_seconds = positive_ttl_seconds
        self.negative_ttl_seconds = negative_ttl_seconds

    async def ensure_exists(self, user_id: uuid.UUID, *, field: str) -> None:
        """Return when the user exists; else `UnknownAssignee` naming `field`."""
        if not await self.exists(user_id):
            raise UnknownAssignee(field)

    async def exists(self, user_id: uuid.UUID) -> bool:
        cached = await self._cached(user_id)
        if cached is not None:
            return cached
        found = await self._ask_auth_svc(user_id)
        await self._remember(user_id, found)
        return found

    async def _ask_auth_svc(self, user_id: uuid.UUID) -> bool:
        try:
            user = await look_up_user(self.auth, user_id)
        except UserLookupFailed as exc:
            logger.warning("auth-svc gave no answer on a user", extra={"error": str(exc)})
            raise UserDirectoryUnavailable from exc
        return user is not None

    async def _cached(self, user_id: uuid.UUID) -> bool | None:
        try:
            value = await self.redis.get(_CACHE_PREFIX + str(user_id))
        except RedisError as exc:
            logger.warning("assignee cache unavailable", extra={"error": type(exc).__name__})
            return None
        return None if value is None else value == _EXISTS

    async def _remember(self, user_id: uuid.UUID, found: bool) -> None:
        ttl = self.positive_ttl_seconds if found else self.negative_ttl_seconds
        try:
            await self.redis.set(
                _CACHE_PREFIX + str(user_id), _EXISTS if found else _MISSING, ex=ttl
            )
        except RedisError as exc:
            logger.warning("assignee cache unavailable", extra={"error": type(exc).__name__})

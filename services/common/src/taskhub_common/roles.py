"""An administrator's claim confirmed against auth-svc: privilege follows the database.

An access token says `role: admin` for its whole lifetime, also after the user was demoted
or deleted. Services other than auth-svc therefore ask auth-svc's internal API for the
current role whenever a token claims admin, and keep the answer for a few seconds per
process: a demotion takes effect everywhere within that time. Plain users' tokens are never
looked up (they claim no privilege that could have been taken away).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from taskhub_common.auth import INVALID_TOKEN_MESSAGE, Principal, Role
from taskhub_common.errors import ServiceUnavailable, Unauthorized
from taskhub_common.internal import AuthServiceEndpoint
from taskhub_common.users import UserLookupFailed, look_up_user

logger = logging.getLogger(__name__)

# A demotion is honoured everywhere within this many seconds (the cache's lifetime).
DEFAULT_ROLE_CACHE_SECONDS = 5.0
ROLE_CACHE_SIZE = 4096


class RolesUnavailable(ServiceUnavailable):
    """auth-svc cannot confirm an administrator: a 503 (with ServiceUnavailable's
    Retry-After), never a guess in either direction."""

    message = "Your role cannot be confirmed right now; try again shortly."


@dataclass(frozen=True, slots=True)
class _Answer:
    role: Role | None  # None: the user no longer exists
    expires_at: float


class CurrentRoles:
    """Users' current roles from auth-svc `GET /internal/users/{id}`, cached per process.

    Both answers are cached for `ttl_seconds`, "no such user" too, so a deleted admin's
    token cannot make every request a lookup. An outage is never cached and never guessed:
    an admin claim that cannot be confirmed is a 503 (fail closed).
    """

    def __init__(
        self,
        auth: AuthServiceEndpoint,
        *,
        ttl_seconds: float = DEFAULT_ROLE_CACHE_SECONDS,
        max_size: int = ROLE_CACHE_SIZE,
    ) -> None:
        self.auth = auth
        self.ttl_seconds = ttl_seconds
        self.max_size = max_size
        self._answers: OrderedDict[uuid.UUID, _Answer] = OrderedDict()

    async def confirm(self, principal: Principal) -> Principal:
        """`principal` with the role auth-svc gives it now; 401 if the user is gone.

        Only an admin claim is looked up; any other is returned as it is.
        """
        if principal.role is not Role.ADMIN:
            return principal
        role = await self.role_of(principal.user_id)
        if role is None:
            raise Unauthorized(INVALID_TOKEN_MESSAGE)
        if role is Role.ADMIN:
            return principal
        return Principal(user_id=principal.user_id, role=role)

    async def role_of(self, user_id: uuid.UUID) -> Role | None:
        """The user's current role, None when auth-svc knows no such user."""
        now = time.monotonic()
        answer = self._answers.get(user_id)
        if answer is not None and now < answer.expires_at:
            return answer.role
        role = await self._ask_auth_svc(user_id)
        self._remember(user_id, _Answer(role, now + self.ttl_seconds))
        return role

    def _remember(self, user_id: uuid.UUID, answer: _Answer) -> None:
        if self.ttl_seconds <= 0 or self.max_size <= 0:
            return
        self._answers[user_id] = answer
        self._answers.move_to_end(user_id)
        while len(self._answers) > self.max_size:
            self._answers.popitem(last=False)

    async def _ask_auth_svc(self, user_id: uuid.UUID) -> Role | None:
        try:
            user = await look_up_user(self.auth, user_id)
        except UserLookupFailed as exc:
            logger.warning("auth-svc gave no role", extra={"error": str(exc)})
            raise RolesUnavailable from exc
        return None if user is None else user.role

    def __len__(self) -> int:
        return len(self._answers)

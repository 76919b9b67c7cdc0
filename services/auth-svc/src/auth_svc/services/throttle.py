"""Failed-login throttling in Redis: per account and per client address, fixed windows.

Each attempt reserves a slot in both counters before the password is checked, so parallel
guesses cannot slip past the limit; a success gives the slots back (the account counter is
cleared). Counters expire with their window, which is also the `Retry-After` a throttled
caller gets. Keys hold a hash of the e-mail, never the address itself.
"""

from __future__ import annotations

import hashlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskhub_common.errors import RateLimited, ServiceUnavailable

KEY_PREFIX = "auth:login-failures"
THROTTLED_MESSAGE = "Too many failed logins; try again later."
# Give back one slot of a counter that still exists (a bare DECR after the window
# expired would create a counter without expiry).
_RELEASE_SLOT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""

logger = logging.getLogger(__name__)


def account_key(email: str) -> str:
    digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:account:{digest}"


def ip_key(ip: str) -> str:
    return f"{KEY_PREFIX}:ip:{ip}"


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, account_limit: int, ip_limit: int, window_seconds: int
    ) -> None:
        self.redis = redis
        self.account_limit = account_limit
        self.ip_limit = ip_limit
        self.window_seconds = window_seconds
        self._release_slot = redis.register_script(_RELEASE_SLOT)

    def _keys(self, email: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(account_key(email), self.account_limit)]
        if ip is not None:
            keys.append((ip_key(ip), self.ip_limit))
        return keys

    async def reserve(self, *, email: str, ip: str | None) -> None:
        """Count an attempt; `RateLimited` when the account or the address is over its limit."""
        keys = self._keys(email, ip)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for key, _ in keys:
                    pipe.incr(key)
                    pipe.expire(key, self.window_seconds, nx=True)
                    pipe.ttl(key)
                results = await pipe.execute()
        except RedisError as exc:
            # Fail closed: without the counters, password guessing would be unlimited.
            raise ServiceUnavailable("Login is temporarily unavailable.") from exc
        retry_after = 0
        for index, (_, limit) in enumerate(keys):
            count, ttl = results[3 * index], results[3 * index + 2]
            if count > limit:
                retry_after = max(retry_after, ttl if ttl > 0 else self.window_seconds)
        if retry_after:
            raise RateLimited(retry_after, THROTTLED_MESSAGE)

    async def forgive(self, *, email: str, ip: str | None) -> None:
        """After a success: clear the account's failures, return the address's slot."""
        try:
            await self.redis.delete(account_key(email))
            if ip is not None:
                await self._release_slot(keys=[ip_key(ip)])
        except RedisError as exc:
            # The login itself succeeded; the counters merely expire later than they could.
            logger.warning("login counters not reset", extra={"error": type(exc).__name__})

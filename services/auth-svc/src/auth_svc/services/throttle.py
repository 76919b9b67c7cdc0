"""Throttling in Redis: failed logins, and registrations, per fixed window.

Failed logins are limited strictly per (account, client address) and per client address:
over either limit the caller gets 429 until the window ends, even with the right
password. Per account across addresses there is no hard limit, because anyone could spend
it and lock the owner out (OWASP Authentication Cheat Sheet): past
`slowdown_after` failures within the window each attempt on the account waits a little,
doubling up to `max_delay_seconds`, and then goes ahead. A brute force on one account
from one address is thus stopped as hard as before; one spread over many addresses is
slowed and bounded per address; the owner, from an address of their own, still signs in.

Each attempt reserves its slots before the password is checked (one Lua script, so
parallel guesses cannot slip past a limit); a success clears the account's counters and
gives the address its slot back. Counters expire with their window, which is also the
`Retry-After` a throttled caller gets. Keys hold a hash of the e-mail, never the e-mail.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from taskhub_common.errors import RateLimited, ServiceUnavailable

KEY_PREFIX = "auth:login-failures"
REGISTER_KEY_PREFIX = "auth:registrations"
THROTTLED_MESSAGE = "Too many failed logins; try again later."
REGISTER_THROTTLED_MESSAGE = "Too many registrations from this address; try again later."
# Address of the (account, address) counter when the caller's address is unknown: such
# attempts share one strict counter per account.
UNKNOWN_ADDRESS = "unknown"
# First slow-down delay; each further failure doubles it, up to the configured cap.
FIRST_DELAY_SECONDS = 0.25

# KEYS: the (account, address) counter, the account counter, [the address counter].
# ARGV: window, limit per (account, address), limit per address.
# Returns {retry_after, 0} when a hard limit is exceeded (the account counter is then
# left alone: a refused attempt guesses nothing), else {0, attempts on the account}.
_RESERVE = """
local window = tonumber(ARGV[1])
local retry = 0
local function count(key, limit)
  local n = redis.call('INCR', key)
  redis.call('EXPIRE', key, window, 'NX')
  if n > limit then
    local ttl = redis.call('TTL', key)
    if ttl <= 0 then ttl = window end
    if ttl > retry then retry = ttl end
  end
end
count(KEYS[1], tonumber(ARGV[2]))
if #KEYS == 3 then count(KEYS[3], tonumber(ARGV[3])) end
if retry > 0 then return {retry, 0} end
local attempts = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], window, 'NX')
return {0, attempts}
"""
# Give back one slot of a counter that still exists (a bare DECR after the window
# expired would create a counter without expiry).
_RELEASE_SLOT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""

logger = logging.getLogger(__name__)


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def account_key(email: str) -> str:
    return f"{KEY_PREFIX}:account:{_digest(email)}"


def account_ip_key(email: str, ip: str | None) -> str:
    return f"{KEY_PREFIX}:account-ip:{_digest(email)}:{ip or UNKNOWN_ADDRESS}"


def ip_key(ip: str) -> str:
    return f"{KEY_PREFIX}:ip:{ip}"


def register_key(ip: str | None) -> str:
    return f"{REGISTER_KEY_PREFIX}:ip:{ip or UNKNOWN_ADDRESS}"


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        account_limit: int,
        ip_limit: int,
        window_seconds: int,
        slowdown_after: int,
        max_delay_seconds: float,
    ) -> None:
        self.redis = redis
        # Per account from one address (the hard limit a stranger can only spend on himself).
        self.account_limit = account_limit
        self.ip_limit = ip_limit
        self.window_seconds = window_seconds
        self.slowdown_after = slowdown_after
        self.max_delay_seconds = max_delay_seconds
        self._reserve = redis.register_script(_RESERVE)
        self._release_slot = redis.register_script(_RELEASE_SLOT)

    def delay_for(self, attempts: int) -> float:
        """Seconds the `attempts`-th attempt on an account in this window waits first."""
        excess = attempts - 1 - self.slowdown_after  # failures before this one, over the mark
        if excess < 0:
            return 0.0
        delay: float = FIRST_DELAY_SECONDS * 2 ** min(excess, 32)
        return min(self.max_delay_seconds, delay)

    async def reserve(self, *, email: str, ip: str | None) -> float:
        """Count an attempt and return the seconds it must wait (the account's slow-down);
        `RateLimited` when the (account, address) pair or the address is over its limit."""
        keys = [account_ip_key(email, ip), account_key(email)]
        if ip is not None:
            keys.append(ip_key(ip))
        arguments = [self.window_seconds, self.account_limit, self.ip_limit]
        try:
            result: Any = await self._reserve(keys=keys, args=arguments)
        except RedisError as exc:
            # Fail closed: without the counters, password guessing would be unlimited.
            raise ServiceUnavailable("Login is temporarily unavailable.") from exc
        retry_after, attempts = int(result[0]), int(result[1])
        if retry_after:
            raise RateLimited(retry_after, THROTTLED_MESSAGE)
        return self.delay_for(attempts)

    async def forgive(self, *, email: str, ip: str | None) -> None:
        """After a success: clear the account's failures, return the address's slot."""
        try:
            await self.redis.delete(account_key(email), account_ip_key(email, ip))
            if ip is not None:
                await self._release_slot(keys=[ip_key(ip)])
        except RedisError as exc:
            # The login itself succeeded; the counters merely expire later than they could.
            logger.warning("login counters not reset", extra={"error": type(exc).__name__})


class RegistrationThrottle:
    """At most `limit` registrations per client address and window (429 beyond)."""

    def __init__(self, redis: Redis, *, limit: int, window_seconds: int) -> None:
        self.redis = redis
        self.limit = limit
        self.window_seconds = window_seconds

    async def reserve(self, *, ip: str | None) -> None:
        key = register_key(ip)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window_seconds, nx=True)
                pipe.ttl(key)
                count, _, ttl = await pipe.execute()
        except RedisError as exc:
            # Fail closed: an unlimited stream of registrations is an unlimited hash cost.
            raise ServiceUnavailable("Registration is temporarily unavailable.") from exc
        if count > self.limit:
            raise RateLimited(ttl if ttl > 0 else self.window_seconds, REGISTER_THROTTLED_MESSAGE)

"""Exact per-user limits: a moving window in Redis (the `limits` library).

Used by task-svc (task creation) and notify-svc (job submissions). A moving window counts
the requests of the last `w` seconds at every instant, so "the 61st request within any
60 s" is refused, unlike a fixed window (up to 2x at a boundary) or nginx's leaky bucket.
Responses describe the quota with the IETF RateLimit header fields
(draft-ietf-httpapi-ratelimit-headers-10/11):

    RateLimit-Policy: "create";q=60;w=60
    RateLimit: "create";r=<remaining>;t=<seconds until one more request is allowed>
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from taskhub_common.errors import RateLimited

logger = logging.getLogger(__name__)

RATE_LIMIT_REJECTIONS = Counter(
    "taskhub_rate_limit_rejections",
    "Requests refused by an application rate limit.",
    ["limit"],
)

_STORAGE_FAILURES = (StorageError, RedisError, OSError)


@dataclass(frozen=True, slots=True)
class Quota:
    """The state of one caller's quota after a request."""

    policy: str
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={self.window_seconds}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_seconds}',
        }


def redis_storage(
    redis_url: str,
    *,
    key_prefix: str = "tasks:ratelimit",
    connection_pool: ConnectionPool | None = None,
) -> RedisStorage:
    """A `limits` storage on redis-py, sharing `connection_pool` (and its timeouts) if given.

    Without a pool it gets short timeouts of its own, so an outage fails open quickly.
    Each service keeps its counters under its own `key_prefix`.
    """
    if connection_pool is not None:
        options: dict[str, Any] = {"connection_pool": connection_pool}
    else:
        options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    return RedisStorage(
        f"async+{redis_url}", implementation="redispy", key_prefix=key_prefix, **options
    )


class UserRateLimiter:
    """One moving-window limit keyed by user id; `metric_label` names it in metrics and
    `message` is what a refused caller reads."""

    def __init__(
        self,
        storage: RedisStorage,
        limit: str,
        *,
        policy: str,
        metric_label: str,
        message: str = "Too many tasks created; retry later.",
    ) -> None:
        self.item: RateLimitItem = parse(limit)
        self.strategy = MovingWindowRateLimiter(storage)
        self.policy = policy
        self.metric_label = metric_label
        self.message = message

    async def consume(self, user_id: uuid.UUID) -> Quota | None:
        """Count one request; `RateLimited` when over the limit, None when Redis is down."""
        key = str(user_id)
        try:
            allowed = await self.strategy.hit(self.item, self.policy, key)
            stats = await self.strategy.get_window_stats(self.item, self.policy, key)
        except _STORAGE_FAILURES as exc:
            # Fail open: losing the limiter for a while beats refusing every request.
            logger.warning("rate limit storage unavailable", extra={"error": type(exc).__name__})
            return None
        reset_seconds = max(0, math.ceil(stats.reset_time - time.time()))
        quota = Quota(
            policy=self.policy,
            limit=self.item.amount,
            window_seconds=self.item.get_expiry(),
            remaining=max(0, stats.remaining),
            reset_seconds=reset_seconds,
        )
        if not allowed:
            RATE_LIMIT_REJECTIONS.labels(self.metric_label).inc()
            error = RateLimited(reset_seconds, self.message)
            error.headers = {**(error.headers or {}), **quota.headers()}
            raise error
        return quota

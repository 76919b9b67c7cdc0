"""Delivery slots per job owner: a counting semaphore in Redis, so that no user's slow
webhook receivers take every worker.

One sorted set per owner holds the job ids in flight, scored by when their lease ends.
Taking a slot first drops expired leases (a worker that died holding one frees it then),
and the server's clock is the only clock used, so workers on other hosts agree.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEY_PREFIX = "notify:slots:"

# KEYS[1] the owner's set; ARGV: job id, lease (ms), slots per owner. 1 = taken.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
    redis.call('PEXPIRE', KEYS[1], lease)
    return 1
end
return 0
"""


def slot_key(owner_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}{owner_id}"


class DeliverySlots:
    """At most `per_owner` deliveries of one owner hold a slot at once, each for at most
    `lease_seconds` (longer than one delivery attempt can take)."""

    def __init__(self, redis: Redis, *, per_owner: int, lease_seconds: float) -> None:
        self.redis = redis
        self.per_owner = per_owner
        self.lease_ms = int(lease_seconds * 1000)

    async def acquire(self, owner_id: uuid.UUID, job_id: uuid.UUID) -> bool:
        """Take a slot for the job (True), or False when the owner's slots are all taken.

        Redis unreachable: True, with a warning. Fairness is lost for a while; deliveries
        are not (the same fail-open choice as the submission quota).
        """
        try:
            taken = await cast(
                Any,
                self.redis.eval(
                    _ACQUIRE,
                    1,
                    slot_key(owner_id),
                    str(job_id),
                    str(self.lease_ms),
                    str(self.per_owner),
                ),
            )
        except (RedisError, OSError) as exc:
            logger.warning("delivery slots unavailable", extra={"error": type(exc).__name__})
            return True
        return bool(taken)

    async def release(self, owner_id: uuid.UUID, job_id: uuid.UUID) -> None:
        """Give the slot back at once (best effort: the lease frees it anyway)."""
        try:
            await cast(Any, self.redis.zrem(slot_key(owner_id), str(job_id)))
        except (RedisError, OSError) as exc:
            logger.warning("delivery slot not released", extra={"error": type(exc).__name__})

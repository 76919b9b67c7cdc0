"""Delivery slots per job owner: a counting semaphore in Redis, so that no user's slow
webhook receivers take every worker, with a waiting line per owner.

One sorted set per owner holds the job ids in flight, scored by when their lease ends.
Taking a slot first drops expired leases (a worker that died holding one frees it then);
a job that finds no free slot joins the owner's waiting line in the same script. Giving a
slot back takes the oldest waiting jobs off the line, in the same script too, for the
caller to enqueue: between the two nothing can slip, so no waiting job is forgotten
while its owner's deliveries go on. Only the Redis server's clock is used.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEY_PREFIX = "notify:slots:"
WAITING_PREFIX = "notify:waiting:"
# A waiting line nobody touches for this long is dropped (the sweep still has the jobs).
WAITING_TTL_MS = 24 * 3600 * 1000

# KEYS: the owner's slots, their waiting line; ARGV: job id, lease (ms), slots per
# owner, line TTL (ms). 1 = taken; 0 = the job is in the waiting line.
_ACQUIRE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
    redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
    redis.call('PEXPIRE', KEYS[1], lease)
    redis.call('ZREM', KEYS[2], ARGV[1])
    return 1
end
-- In line by arrival, to the microsecond (exact in a double until the year 2255).
redis.call('ZADD', KEYS[2], 'NX', tonumber(time[1]) * 1000000 + tonumber(time[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
return 0
"""

# KEYS: the owner's slots, their waiting line; ARGV: job id, how many to wake.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
local popped = redis.call('ZPOPMIN', KEYS[2], tonumber(ARGV[2]))
local woken = {}
for index = 1, #popped, 2 do
    woken[#woken + 1] = popped[index]
end
return woken
"""


def slot_key(owner_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}{owner_id}"


def waiting_key(owner_id: uuid.UUID) -> str:
    return f"{WAITING_PREFIX}{owner_id}"


class DeliverySlots:
    """At most `per_owner` deliveries of one owner hold a slot at once, each for at most
    `lease_seconds` (longer than one delivery attempt can take)."""

    def __init__(self, redis: Redis, *, per_owner: int, lease_seconds: float) -> None:
        self.redis = redis
        self.per_owner = per_owner
        self.lease_ms = int(lease_seconds * 1000)

    async def acquire(self, owner_id: uuid.UUID, job_id: uuid.UUID) -> bool:
        """Take a slot for the job (True), or put it in the owner's waiting line (False).

        Redis unreachable: True, with a warning. Fairness is lost for a while; deliveries
        are not (the same fail-open choice as the submission quota).
        """
        keys_and_args = (
            slot_key(owner_id),
            waiting_key(owner_id),
            str(job_id),
            str(self.lease_ms),
            str(self.per_owner),
            str(WAITING_TTL_MS),
        )
        try:
            taken = await cast(Any, self.redis.eval(_ACQUIRE, 2, *keys_and_args))
        except (RedisError, OSError) as exc:
            logger.warning("delivery slots unavailable", extra={"error": type(exc).__name__})
            return True
        return bool(taken)

    async def release(self, owner_id: uuid.UUID, job_id: uuid.UUID) -> list[uuid.UUID]:
        """Give the slot back; the owner's oldest waiting jobs, which the caller enqueues.

        Best effort: on a Redis error the lease frees the slot anyway, and the stuck-job
        sweep enqueues whoever waits.
        """
        keys_and_args = (
            slot_key(owner_id),
            waiting_key(owner_id),
            str(job_id),
            str(self.per_owner),
        )
        try:
            woken = await cast(Any, self.redis.eval(_RELEASE, 2, *keys_and_args))
        except (RedisError, OSError) as exc:
            logger.warning("delivery slot not released", extra={"error": type(exc).__name__})
            return []
        return [uuid.UUID(raw.decode() if isinstance(raw, bytes) else raw) for raw in woken]

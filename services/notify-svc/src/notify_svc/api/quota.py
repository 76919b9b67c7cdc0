"""The per-user submission quota of POST /notify/email and /notify/webhook (one, shared).

The same moving window as task-svc's creation limit (`taskhub_common.rate_limit`): the
61st submission within any minute is refused with 429, `Retry-After` and the IETF
RateLimit fields. Jobs made from task events and reminders do not pass here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Response

from notify_svc.api.deps import NotifyWriter
from notify_svc.core.config import get_settings
from notify_svc.db.session import redis
from taskhub_common.rate_limit import Quota, UserRateLimiter, redis_storage

POLICY = "notify"

RATE_LIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": 'The submission quota, e.g. `"notify";q=60;w=60` (IETF RateLimit fields).',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it, e.g. `"notify";r=59;t=60` (t: seconds until one '
        "more submission is allowed).",
        "schema": {"type": "string"},
    },
}


@lru_cache
def _submission_limiter() -> UserRateLimiter:
    settings = get_settings()
    return UserRateLimiter(
        redis_storage(
            settings.redis_url, key_prefix="notify:ratelimit", connection_pool=redis.connection_pool
        ),
        settings.submit_rate_limit,
        policy=POLICY,
        metric_label="notify_submit",
        message="Too many notifications submitted; retry later.",
    )


async def submission_limiter() -> UserRateLimiter:
    # `async def`: a plain `def` dependency would cost a thread hop per request.
    return _submission_limiter()


async def submission_quota(
    user: NotifyWriter,
    response: Response,
    limiter: Annotated[UserRateLimiter, Depends(submission_limiter)],
) -> Quota | None:
    """Count this submission against the caller's quota (429 when it is spent).

    Every authenticated attempt counts, also a replay or one refused with 422: the quota
    caps the work a caller can make us do, not only the jobs it gets.
    """
    quota = await limiter.consume(user.user_id)
    if quota is not None:
        response.headers.update(quota.headers())
    return quota


SubmissionQuota = Annotated[Quota | None, Depends(submission_quota)]

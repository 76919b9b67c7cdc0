"""The shared moving-window limiter on a real Redis: exact, per user, per service, fail-open."""

from __future__ import annotations

import logging
import os
import socket
import uuid

import pytest

from taskhub_common.errors import RateLimited
from taskhub_common.rate_limit import UserRateLimiter, redis_storage


@pytest.fixture(scope="module")
def redis_url() -> str:
    # Any test Redis will do: every test keeps its counters under a prefix of its own.
    url = os.environ.get("AUTH_REDIS_URL")
    if not url:
        pytest.fail("Set AUTH_REDIS_URL to a test Redis (nox -s tests does this).")
    return url


def _limiter(url: str, limit: str, prefix: str, **options: str) -> UserRateLimiter:
    return UserRateLimiter(
        redis_storage(url, key_prefix=prefix), limit, policy="demo", metric_label="demo", **options
    )


async def test_the_request_past_the_limit_is_refused_with_its_headers(redis_url: str) -> None:
    limiter = _limiter(redis_url, "3/minute", f"test:{uuid.uuid4()}", message="Slow down.")
    alice, bob = uuid.uuid4(), uuid.uuid4()

    quotas = [await limiter.consume(alice) for _ in range(3)]
    with pytest.raises(RateLimited) as refused:
        await limiter.consume(alice)
    other = await limiter.consume(bob)

    assert [quota.remaining for quota in quotas if quota] == [2, 1, 0]
    assert quotas[0] is not None
    assert quotas[0].headers()["RateLimit-Policy"] == '"demo";q=3;w=60'
    assert refused.value.message == "Slow down."
    headers = refused.value.headers or {}
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["RateLimit"].startswith('"demo";r=0;t=')
    assert other is not None
    assert other.remaining == 2


async def test_each_key_prefix_counts_on_its_own(redis_url: str) -> None:
    first = _limiter(redis_url, "1/minute", f"one:{uuid.uuid4()}")
    second = _limiter(redis_url, "1/minute", f"two:{uuid.uuid4()}")
    user = uuid.uuid4()

    assert await first.consume(user) is not None
    assert await second.consume(user) is not None
    with pytest.raises(RateLimited):
        await first.consume(user)


async def test_redis_down_fails_open_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = _limiter(f"redis://127.0.0.1:{port}/0", "1/minute", "down")
    with caplog.at_level(logging.WARNING):
        answers = [await limiter.consume(uuid.uuid4()) for _ in range(2)]

    assert answers == [None, None]
    assert "rate limit storage unavailable" in caplog.messages

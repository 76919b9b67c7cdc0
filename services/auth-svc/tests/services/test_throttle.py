"""The Redis login counters: limits, windows, resets, and failing closed without Redis."""

from __future__ import annotations

import socket

import pytest
from redis.asyncio import Redis

from auth_svc.db.session import redis
from auth_svc.services.throttle import LoginThrottle, account_key, ip_key
from taskhub_common.errors import RateLimited, ServiceUnavailable

pytestmark = pytest.mark.integration

EMAIL = "counted@example.com"
IP = "192.0.2.55"


def throttle(**limits: int) -> LoginThrottle:
    settings = {"account_limit": 2, "ip_limit": 3, "window_seconds": 120, **limits}
    return LoginThrottle(redis, **settings)


async def test_attempts_beyond_the_account_limit_are_refused(clean_redis: None) -> None:
    limiter = throttle()
    await limiter.reserve(email=EMAIL, ip=IP)
    await limiter.reserve(email=EMAIL, ip=IP)

    with pytest.raises(RateLimited) as raised:
        await limiter.reserve(email=EMAIL, ip=IP)

    assert raised.value.headers is not None
    assert 0 < int(raised.value.headers["Retry-After"]) <= 120
    assert 0 < await redis.ttl(account_key(EMAIL)) <= 120


async def test_counter_keys_never_contain_the_address(clean_redis: None) -> None:
    await throttle().reserve(email=EMAIL, ip=IP)
    keys = [key.decode() for key in await redis.keys("*")]
    assert all(EMAIL not in key for key in keys)
    assert sorted(keys) == sorted([account_key(EMAIL), ip_key(IP)])


async def test_forgiving_clears_the_account_and_returns_the_address_slot(
    clean_redis: None,
) -> None:
    limiter = throttle()
    await limiter.reserve(email=EMAIL, ip=IP)
    await limiter.reserve(email=EMAIL, ip=IP)

    await limiter.forgive(email=EMAIL, ip=IP)

    assert await redis.exists(account_key(EMAIL)) == 0
    assert int(await redis.get(ip_key(IP)) or 0) == 1


async def test_forgiving_after_the_window_leaves_no_counter_behind(clean_redis: None) -> None:
    await throttle().forgive(email=EMAIL, ip=IP)
    assert await redis.exists(ip_key(IP)) == 0


async def test_attempts_without_an_address_count_per_account_only(clean_redis: None) -> None:
    limiter = throttle(account_limit=1)
    await limiter.reserve(email=EMAIL, ip=None)
    with pytest.raises(RateLimited):
        await limiter.reserve(email=EMAIL, ip=None)
    await limiter.forgive(email=EMAIL, ip=None)
    await limiter.reserve(email=EMAIL, ip=None)


async def test_without_redis_logins_fail_closed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    limiter = LoginThrottle(unreachable, account_limit=5, ip_limit=20, window_seconds=60)
    try:
        with pytest.raises(ServiceUnavailable):
            await limiter.reserve(email=EMAIL, ip=IP)
        await limiter.forgive(email=EMAIL, ip=IP)  # best effort: no exception
    finally:
        await unreachable.aclose()

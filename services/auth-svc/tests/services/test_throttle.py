"""The Redis throttles: hard limits per (account, address) and per address, the slow-down
per account across addresses, registrations per address, and failing closed without Redis."""

from __future__ import annotations

import socket

import pytest
from redis.asyncio import Redis

from auth_svc.db.session import redis
from auth_svc.services.throttle import (
    FIRST_DELAY_SECONDS,
    LoginThrottle,
    RegistrationThrottle,
    account_ip_key,
    account_key,
    ip_key,
    register_key,
)
from taskhub_common.errors import RateLimited, ServiceUnavailable

pytestmark = pytest.mark.integration

EMAIL = "counted@example.com"
IP = "192.0.2.55"


def throttle(**limits: float) -> LoginThrottle:
    settings: dict[str, float] = {
        "account_limit": 2,
        "ip_limit": 3,
        "window_seconds": 120,
        "slowdown_after": 4,
        "max_delay_seconds": 1.0,
        **limits,
    }
    return LoginThrottle(
        redis,
        account_limit=int(settings["account_limit"]),
        ip_limit=int(settings["ip_limit"]),
        window_seconds=int(settings["window_seconds"]),
        slowdown_after=int(settings["slowdown_after"]),
        max_delay_seconds=settings["max_delay_seconds"],
    )


def unreachable_redis() -> Redis:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)


async def test_attempts_beyond_the_limit_of_an_account_from_one_address_are_refused(
    clean_redis: None,
) -> None:
    limiter = throttle(ip_limit=100)
    await limiter.reserve(email=EMAIL, ip=IP)
    await limiter.reserve(email=EMAIL, ip=IP)

    with pytest.raises(RateLimited) as raised:
        await limiter.reserve(email=EMAIL, ip=IP)

    assert raised.value.headers is not None
    assert 0 < int(raised.value.headers["Retry-After"]) <= 120
    assert 0 < await redis.ttl(account_ip_key(EMAIL, IP)) <= 120


async def test_an_exhausted_account_stays_open_from_another_address(clean_redis: None) -> None:
    limiter = throttle(ip_limit=100)
    for _ in range(2):
        await limiter.reserve(email=EMAIL, ip=IP)
    with pytest.raises(RateLimited):
        await limiter.reserve(email=EMAIL, ip=IP)

    assert await limiter.reserve(email=EMAIL, ip="198.51.100.200") == 0


async def test_many_addresses_on_one_account_are_slowed_never_refused(clean_redis: None) -> None:
    limiter = throttle(slowdown_after=3, max_delay_seconds=1.0)

    delays = [await limiter.reserve(email=EMAIL, ip=f"198.51.100.{n}") for n in range(9)]

    first = FIRST_DELAY_SECONDS
    assert delays == [0, 0, 0, first, 2 * first, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 0.0), (10, 0.0), (11, 0.25), (12, 0.5), (14, 2.0), (15, 3.0), (99, 3.0)],
)
def test_the_slow_down_doubles_up_to_its_cap(attempts: int, delay: float) -> None:
    limiter = throttle(slowdown_after=10, max_delay_seconds=3.0)
    assert limiter.delay_for(attempts) == delay


async def test_refused_attempts_do_not_add_to_the_account_slow_down(clean_redis: None) -> None:
    limiter = throttle(account_limit=1, ip_limit=100)
    await limiter.reserve(email=EMAIL, ip=IP)
    for _ in range(5):
        with pytest.raises(RateLimited):
            await limiter.reserve(email=EMAIL, ip=IP)

    assert int(await redis.get(account_key(EMAIL)) or 0) == 1


async def test_one_address_on_many_accounts_is_refused(clean_redis: None) -> None:
    limiter = throttle(ip_limit=3)
    for number in range(3):
        await limiter.reserve(email=f"victim-{number}@example.com", ip=IP)

    with pytest.raises(RateLimited):
        await limiter.reserve(email="victim-3@example.com", ip=IP)


async def test_counter_keys_never_contain_the_address(clean_redis: None) -> None:
    await throttle().reserve(email=EMAIL, ip=IP)
    keys = [key.decode() for key in await redis.keys("*")]
    assert all(EMAIL not in key for key in keys)
    assert sorted(keys) == sorted([account_key(EMAIL), account_ip_key(EMAIL, IP), ip_key(IP)])


async def test_forgiving_clears_the_account_and_returns_the_address_slot(
    clean_redis: None,
) -> None:
    limiter = throttle()
    await limiter.reserve(email=EMAIL, ip=IP)
    await limiter.reserve(email=EMAIL, ip=IP)

    await limiter.forgive(email=EMAIL, ip=IP)

    assert await redis.exists(account_key(EMAIL), account_ip_key(EMAIL, IP)) == 0
    assert int(await redis.get(ip_key(IP)) or 0) == 1


async def test_forgiving_after_the_window_leaves_no_counter_behind(clean_redis: None) -> None:
    await throttle().forgive(email=EMAIL, ip=IP)
    assert await redis.exists(ip_key(IP)) == 0


async def test_attempts_without_an_address_share_one_strict_counter(clean_redis: None) -> None:
    limiter = throttle(account_limit=1)
    await limiter.reserve(email=EMAIL, ip=None)
    with pytest.raises(RateLimited):
        await limiter.reserve(email=EMAIL, ip=None)
    await limiter.forgive(email=EMAIL, ip=None)
    await limiter.reserve(email=EMAIL, ip=None)


async def test_without_redis_logins_fail_closed() -> None:
    unreachable = unreachable_redis()
    limiter = LoginThrottle(
        unreachable,
        account_limit=5,
        ip_limit=20,
        window_seconds=60,
        slowdown_after=10,
        max_delay_seconds=3,
    )
    try:
        with pytest.raises(ServiceUnavailable):
            await limiter.reserve(email=EMAIL, ip=IP)
        await limiter.forgive(email=EMAIL, ip=IP)  # best effort: no exception
    finally:
        await unreachable.aclose()


async def test_registrations_beyond_the_limit_of_an_address_are_refused(
    clean_redis: None,
) -> None:
    limiter = RegistrationThrottle(redis, limit=2, window_seconds=60)
    await limiter.reserve(ip=IP)
    await limiter.reserve(ip=IP)

    with pytest.raises(RateLimited) as raised:
        await limiter.reserve(ip=IP)
    await limiter.reserve(ip="198.51.100.1")  # another address has its own count

    assert raised.value.headers is not None
    assert 0 < int(raised.value.headers["Retry-After"]) <= 60
    assert 0 < await redis.ttl(register_key(IP)) <= 60


async def test_without_redis_registrations_fail_closed() -> None:
    unreachable = unreachable_redis()
    try:
        with pytest.raises(ServiceUnavailable):
            await RegistrationThrottle(unreachable, limit=2, window_seconds=60).reserve(ip=IP)
    finally:
        await unreachable.aclose()

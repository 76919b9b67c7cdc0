"""POST /auth/login: tokens for valid credentials, one answer for every wrong guess,
throttling per account and per client address, and an audit row for every attempt."""

from __future__ import annotations

import statistics
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.api import deps
from auth_svc.core.keys import KeyRing
from auth_svc.db.session import redis
from auth_svc.main import app
from auth_svc.models.login_audit import LoginAudit
from auth_svc.models.user import User
from auth_svc.repositories import users as user_repository
from auth_svc.services.throttle import LoginThrottle

pytestmark = pytest.mark.integration

WRONG = "not the password"


async def attempt(
    client: httpx.AsyncClient, email: str, password: str, ip: str | None = None
) -> httpx.Response:
    headers = {"X-Real-IP": ip} if ip else {}
    return await client.post(
        "/auth/login", json={"email": email, "password": password}, headers=headers
    )


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return {key: value for key, value in error.items() if key != "request_id"}


async def audit_rows(session: AsyncSession, user_id: Any = None) -> list[LoginAudit]:
    query = select(LoginAudit).order_by(LoginAudit.id)
    if user_id is not None:
        query = query.where(LoginAudit.user_id == user_id)
    return list(await session.scalars(query))


@pytest.fixture
async def small_ip_limit() -> AsyncIterator[LoginThrottle]:
    """The same throttle with a per-address limit of 3, to keep the test short."""
    throttle = LoginThrottle(
        redis,
        account_limit=5,
        ip_limit=3,
        window_seconds=900,
        slowdown_after=10,
        max_delay_seconds=3,
    )
    app.dependency_overrides[deps._throttle] = lambda: throttle
    yield throttle
    app.dependency_overrides.pop(deps._throttle, None)


@pytest.fixture
async def quick_slowdown() -> AsyncIterator[LoginThrottle]:
    """The same throttle, slowing an account down after 3 failures, by at most 0.6 s."""
    throttle = LoginThrottle(
        redis,
        account_limit=5,
        ip_limit=1000,
        window_seconds=900,
        slowdown_after=3,
        max_delay_seconds=0.6,
    )
    app.dependency_overrides[deps._throttle] = lambda: throttle
    yield throttle
    app.dependency_overrides.pop(deps._throttle, None)


async def test_valid_credentials_get_a_token_pair(
    client: httpx.AsyncClient, user: Any, key_ring: KeyRing
) -> None:
    response = await attempt(client, user.email.upper(), user.password)

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    pair = response.json()
    assert set(pair) == {"access", "refresh", "expires_in", "token_type"}
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    access = jwt.decode(pair["access"], key_ring.keys, algorithms=["RS256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["sub"] == str(user.id)
    assert access.claims["role"] == "user"
    refresh = jwt.decode(pair["refresh"], key_ring.keys, algorithms=["RS256"])
    assert refresh.header["typ"] == "rt+jwt"


async def test_unknown_email_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, user: Any
) -> None:
    wrong_password = await attempt(client, user.email, WRONG)
    unknown_email = await attempt(client, "nobody-" + user.email, WRONG)

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert without_request_id(wrong_password) == without_request_id(unknown_email)
    assert without_request_id(wrong_password) == {
        "code": "INVALID_CREDENTIALS",
        "message": "The e-mail or password is wrong.",
    }


async def test_unknown_email_and_wrong_password_take_similar_time(
    client: httpx.AsyncClient, user: Any
) -> None:
    async def timed(email: str) -> float:
        started = time.perf_counter()
        response = await attempt(client, email, WRONG)
        assert response.status_code == 401
        return time.perf_counter() - started

    wrong_password = statistics.median([await timed(user.email) for _ in range(3)])
    unknown_email = statistics.median([await timed("ghost-" + user.email) for _ in range(3)])

    # Both verify one argon2 hash; skipping it would make the unknown e-mail ~100x faster.
    assert 0.4 < unknown_email / wrong_password < 2.5


async def test_the_sixth_failure_on_an_account_from_one_address_is_throttled(
    client: httpx.AsyncClient, user: Any, session: AsyncSession
) -> None:
    for _ in range(5):
        assert (await attempt(client, user.email, WRONG, ip="198.51.100.1")).status_code == 401

    throttled = await attempt(client, user.email, user.password, ip="198.51.100.1")

    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(throttled.headers["Retry-After"]) <= 900
    rows = await audit_rows(session, user.id)
    assert [row.success for row in rows] == [False] * 6


async def test_a_stranger_cannot_lock_the_owner_out(
    client: httpx.AsyncClient, user: Any, session: AsyncSession
) -> None:
    # The attacker spends the account's limit from one address, then from another.
    for number in range(2):
        for _ in range(5):
            await attempt(client, user.email, WRONG, ip=f"198.51.100.{number}")
        refused = await attempt(client, user.email, WRONG, ip=f"198.51.100.{number}")
        assert refused.status_code == 429

    owner = await attempt(client, user.email, user.password, ip="192.0.2.77")

    assert owner.status_code == 200, owner.text
    rows = await audit_rows(session, user.id)
    assert rows[-1].success
    assert str(rows[-1].ip) == "192.0.2.77"


async def test_failures_from_many_addresses_slow_the_account_down(
    client: httpx.AsyncClient, user: Any, quick_slowdown: LoginThrottle
) -> None:
    for number in range(3):
        assert (
            await attempt(client, user.email, WRONG, ip=f"198.51.100.{number}")
        ).status_code == 401

    started = time.perf_counter()
    owner = await attempt(client, user.email, user.password, ip="192.0.2.77")
    slowed = time.perf_counter() - started

    assert owner.status_code == 200
    assert slowed >= 0.25  # the first delay past 3 failures
    started = time.perf_counter()
    assert (await attempt(client, user.email, user.password, ip="192.0.2.77")).status_code == 200
    assert time.perf_counter() - started < slowed  # the success cleared the slow-down


async def test_the_account_slow_down_is_capped(
    client: httpx.AsyncClient, user: Any, quick_slowdown: LoginThrottle
) -> None:
    for number in range(8):
        await attempt(client, user.email, WRONG, ip=f"198.51.100.{number}")

    started = time.perf_counter()
    owner = await attempt(client, user.email, user.password, ip="192.0.2.77")

    assert owner.status_code == 200
    assert 0.6 <= time.perf_counter() - started < 0.6 + 1.0  # the cap, plus one hash


async def test_a_success_clears_the_account_failures(client: httpx.AsyncClient, user: Any) -> None:
    for _ in range(4):
        assert (await attempt(client, user.email, WRONG)).status_code == 401
    assert (await attempt(client, user.email, user.password)).status_code == 200

    statuses = [(await attempt(client, user.email, WRONG)).status_code for _ in range(6)]

    assert statuses == [401] * 5 + [429]


async def test_one_address_failing_on_many_accounts_is_throttled(
    client: httpx.AsyncClient, make_user: Any, small_ip_limit: LoginThrottle
) -> None:
    victims = [await make_user() for _ in range(4)]
    for victim in victims[:3]:
        assert (await attempt(client, victim.email, WRONG, ip="192.0.2.10")).status_code == 401

    throttled = await attempt(client, victims[3].email, victims[3].password, ip="192.0.2.10")
    elsewhere = await attempt(client, victims[3].email, victims[3].password, ip="192.0.2.11")

    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert elsewhere.status_code == 200


async def test_successes_do_not_use_up_the_address_limit(
    client: httpx.AsyncClient, user: Any, small_ip_limit: LoginThrottle
) -> None:
    for _ in range(4):
        assert (
            await attempt(client, user.email, user.password, ip="192.0.2.20")
        ).status_code == 200


async def test_every_attempt_is_audited_with_the_gateway_address(
    client: httpx.AsyncClient, user: Any, session: AsyncSession
) -> None:
    agent = "Browser/1.0 " + "x" * 400
    await client.post(
        "/auth/login",
        json={"email": user.email, "password": user.password},
        headers={"X-Real-IP": "198.51.100.23", "User-Agent": agent},
    )
    await attempt(client, user.email, WRONG, ip="2001:db8::1")
    await attempt(client, "ghost-" + user.email, WRONG, ip="not-an-ip")

    rows = await audit_rows(session)
    mine = [row for row in rows if row.user_id == user.id]
    assert [(str(row.ip), row.success) for row in mine] == [
        ("198.51.100.23", True),
        ("2001:db8::1", False),
    ]
    assert mine[0].user_agent == agent[:256]
    unknown = rows[-1]
    assert unknown.user_id is None
    assert not unknown.success
    assert str(unknown.ip) == "203.0.113.7"  # an invalid header falls back to the peer


async def test_a_weak_hash_is_upgraded_at_login(
    client: httpx.AsyncClient, make_user: Any, session: AsyncSession
) -> None:
    account = await make_user()
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID).hash(
        account.password
    )
    await user_repository.set_password_hash(session, account.id, weak)

    assert (await attempt(client, account.email, account.password)).status_code == 200

    stored = await session.scalar(
        select(User.password_hash)
        .where(User.id == account.id)
        .execution_options(populate_existing=True)
    )
    assert stored is not None
    assert stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)
    assert (await attempt(client, account.email, account.password)).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": ""},
        {"email": "a@example.com", "password": "x", "remember": True},
        {"email": "", "password": "x"},
        {"email": "a\x00@example.com", "password": "x"},
    ],
)
async def test_malformed_logins_are_422(client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
    response = await client.post("/auth/login", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("registered_form", "login_form"), [("NFD", "NFC"), ("NFC", "NFD")], ids=["nfd-nfc", "nfc-nfd"]
)
async def test_login_finds_the_account_whatever_the_unicode_form_case_and_blanks(
    client: httpx.AsyncClient,
    registered_form: Literal["NFC", "NFD"],
    login_form: Literal["NFC", "NFD"],
) -> None:
    address = f"José.Müller-{uuid.uuid4().hex[:8]}@Exämple.com"
    registered = await client.post(
        "/auth/register",
        json={
            "email": unicodedata.normalize(registered_form, address),
            "password": "a long password",
            "name": "José",
        },
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == unicodedata.normalize("NFC", address).lower()

    spelled = "  " + unicodedata.normalize(login_form, address).upper() + " "
    response = await attempt(client, spelled, "a long password")

    assert response.status_code == 200, response.text


async def test_the_address_header_of_an_untrusted_peer_is_ignored(
    client: httpx.AsyncClient, user: Any, session: AsyncSession, small_ip_limit: LoginThrottle
) -> None:
    # Called directly (not through the gateway), a caller chooses its X-Real-IP freely.
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as direct:
        statuses = [
            (await attempt(direct, user.email, WRONG, ip=f"192.0.2.{number}")).status_code
            for number in range(4)
        ]

    assert statuses == [401, 401, 401, 429]  # one address, whatever the header said
    rows = await audit_rows(session, user.id)
    assert {str(row.ip) for row in rows} == {"198.51.100.9"}


@pytest.mark.parametrize("peer", ["203.0.113.7", "::ffff:203.0.113.7"], ids=["ipv4", "mapped"])
async def test_the_address_header_of_the_trusted_gateway_is_believed(
    client: httpx.AsyncClient,
    user: Any,
    session: AsyncSession,
    small_ip_limit: LoginThrottle,
    peer: str,
) -> None:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as gateway:
        statuses = [
            (await attempt(gateway, user.email, WRONG, ip=f"192.0.2.{number}")).status_code
            for number in range(4)
        ]

    assert statuses == [401, 401, 401, 401]  # four clients behind the gateway
    rows = await audit_rows(session, user.id)
    assert sorted(str(row.ip) for row in rows) == [f"192.0.2.{n}" for n in range(4)]

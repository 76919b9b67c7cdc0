"""POST /auth/register: accounts are created as `user`, validated, and unique by e-mail."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_svc.api import deps
from auth_svc.core.security import passwords
from auth_svc.db.session import redis
from auth_svc.main import app
from auth_svc.models.user import User
from auth_svc.services.throttle import RegistrationThrottle

pytestmark = pytest.mark.integration


def unique_email() -> str:
    return f"new-{uuid.uuid4().hex[:12]}@example.com"


def body(address: str, **fields: Any) -> dict[str, Any]:
    return {"email": address, "password": "s3cret-enough", "name": "Alice", **fields}


async def test_register_creates_a_user_account(
    client: httpx.AsyncClient, email: str, session: AsyncSession
) -> None:
    response = await client.post("/auth/register", json=body(email.upper(), name="  Alice  "))

    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "email", "name", "role", "created_at"}
    assert created["email"] == email  # stored lower-cased
    assert created["name"] == "Alice"
    assert created["role"] == "user"
    stored = await session.scalar(select(User).where(User.email == email))
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert "s3cret-enough" not in stored.password_hash


async def test_a_client_cannot_choose_its_role(
    client: httpx.AsyncClient, email: str, session: AsyncSession
) -> None:
    response = await client.post("/auth/register", json=body(email, role="admin"))

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {"field": "body.role", "message": "Unknown field."} in error["details"]
    assert await session.scalar(select(User).where(User.email == email)) is None


async def test_a_taken_email_is_a_conflict_whatever_its_case(
    client: httpx.AsyncClient, email: str
) -> None:
    assert (await client.post("/auth/register", json=body(email))).status_code == 201

    response = await client.post("/auth/register", json=body(email.swapcase(), name="Mallory"))

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"password": "short"}, "body.password"),
        ({"password": "x" * 129}, "body.password"),
        ({"password": "nul\x00inside-password"}, "body.password"),
        ({"name": ""}, "body.name"),
        ({"name": "   "}, "body.name"),
        ({"name": "n" * 101}, "body.name"),
        ({"name": "nul\x00name"}, "body.name"),
        ({"email": "not-an-email"}, "body.email"),
        ({"email": "nul\x00@example.com"}, "body.email"),
        ({"email": 42}, "body.email"),
        ({"name": None}, "body.name"),
    ],
)
async def test_invalid_fields_are_422_without_echoing_the_input(
    client: httpx.AsyncClient, email: str, fields: dict[str, Any], field: str
) -> None:
    response = await client.post("/auth/register", json=body(email, **fields))

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in {detail["field"] for detail in error["details"]}
    assert "s3cret-enough" not in response.text
    assert "x" * 129 not in response.text


async def test_the_boundary_lengths_are_accepted(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(
        "/auth/register", json=body(email, password="p" * 128, name="n" * 100)
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[]", b'"text"', b""],
    ids=["malformed", "array", "string", "empty"],
)
async def test_bodies_that_are_not_objects_are_422(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/auth/register", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.fixture
async def two_per_address() -> AsyncIterator[RegistrationThrottle]:
    """The registration throttle with a limit of two per address, to keep the test short."""
    throttle = RegistrationThrottle(redis, limit=2, window_seconds=600)
    app.dependency_overrides[deps._register_throttle] = lambda: throttle
    yield throttle
    app.dependency_overrides.pop(deps._register_throttle, None)


async def test_registrations_beyond_the_limit_of_an_address_are_429(
    client: httpx.AsyncClient, two_per_address: RegistrationThrottle, session: AsyncSession
) -> None:
    here = {"X-Real-IP": "198.51.100.40"}
    first = await client.post("/auth/register", json=body(unique_email()), headers=here)
    taken = await client.post(
        "/auth/register", json=body(first.json()["email"]), headers=here
    )  # a refused one counts as well
    late = unique_email()

    refused = await client.post("/auth/register", json=body(late), headers=here)
    elsewhere = await client.post(
        "/auth/register", json=body(unique_email()), headers={"X-Real-IP": "198.51.100.41"}
    )

    assert (first.status_code, taken.status_code) == (201, 409)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert await session.scalar(select(User).where(User.email == late)) is None
    assert elsewhere.status_code == 201


async def test_a_taken_email_is_refused_without_hashing_the_password(
    client: httpx.AsyncClient, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real_hash = passwords.hash

    async def counting_hash(password: str) -> str:
        hashed.append(password)
        return await real_hash(password)

    monkeypatch.setattr(passwords, "hash", counting_hash)

    taken = await client.post("/auth/register", json=body(user.email.upper()))
    created = await client.post("/auth/register", json=body(unique_email()))

    assert (taken.status_code, created.status_code) == (409, 201)
    assert len(hashed) == 1  # only the new account's password


async def test_a_registration_without_redis_is_503(
    client: httpx.AsyncClient, email: str, session: AsyncSession
) -> None:
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    app.dependency_overrides[deps._register_throttle] = lambda: RegistrationThrottle(
        unreachable, limit=2, window_seconds=600
    )
    try:
        response = await client.post("/auth/register", json=body(email))
    finally:
        app.dependency_overrides.pop(deps._register_throttle, None)
        await unreachable.aclose()

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert await session.scalar(select(User).where(User.email == email)) is None

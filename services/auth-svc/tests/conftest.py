"""Fixtures of auth-svc's tests: the real test PostgreSQL and Redis, throwaway signing keys,
an in-process API client, and small factories for users and tokens."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REQUIRED_ENV = ("AUTH_DATABASE_URL", "AUTH_REDIS_URL")
_missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
if _missing:
    raise pytest.UsageError(
        f"auth-svc tests need {', '.join(_missing)} (the test stack's auth database and "
        "Redis): `uv run nox -s tests -- auth-svc` starts that stack and sets them; by hand, "
        "`uv run taskhub-stack up --infra-only` and export what `taskhub-stack env --test` prints"
    )

GATEWAY_PEER = "203.0.113.7"  # the peer address api_client reports
# That peer plays the gateway: its X-Real-IP is believed (other peers' is not).
os.environ["AUTH_TRUSTED_PROXIES"] = json.dumps([f"{GATEWAY_PEER}/32"])

# Imported only once the environment is known to point at the test stack.
from sqlalchemy import delete, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from auth_svc.core.config import get_settings  # noqa: E402
from auth_svc.core.keys import KeyRing  # noqa: E402
from auth_svc.core.security import issue_access_token, key_store, passwords  # noqa: E402
from auth_svc.db.session import database, redis  # noqa: E402
from auth_svc.main import app  # noqa: E402
from auth_svc.models.login_audit import LoginAudit  # noqa: E402
from auth_svc.models.user import User  # noqa: E402
from auth_svc.repositories import users as user_repository  # noqa: E402
from taskhub_common.auth import Role  # noqa: E402
from taskhub_common.testing import api_client, migrate, rollback_session  # noqa: E402

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    role: Role
    password: str = PASSWORD

    @property
    def headers(self) -> dict[str, str]:
        token = issue_access_token(user_id=self.id, role=self.role)
        return {"Authorization": f"Bearer {token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture
def email() -> str:
    """An e-mail address no other test uses."""
    return unique_email()


@pytest.fixture(scope="session")
def key_ring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    """Throwaway signing keys: the tests never touch `.stack/keys`."""
    return key_store.load(tmp_path_factory.mktemp("auth-keys"))


@pytest.fixture(scope="session")
async def migrated() -> None:
    url = get_settings().database_url
    # The suite commits and deletes rows: never let it loose on a real database.
    if not (make_url(url).database or "").endswith("_test"):
        pytest.exit("AUTH_DATABASE_URL must name a *_test database", returncode=4)
    await migrate(ALEMBIC_INI, url)


@pytest.fixture(scope="session")
async def password_hash() -> str:
    """One real argon2 hash of `PASSWORD`, so factories skip the expensive hashing."""
    return await passwords.hash(PASSWORD)


@pytest.fixture
async def session(migrated: None) -> AsyncIterator[AsyncSession]:
    async with rollback_session(database.engine) as db_session:
        yield db_session


@pytest.fixture
async def clean_redis() -> AsyncIterator[None]:
    """The login counters of one test never throttle another (db 10 is the tests' own)."""
    if int(redis.connection_pool.connection_kwargs.get("db", 0)) < 10:
        pytest.exit("AUTH_REDIS_URL must use a test Redis database (10-15)", returncode=4)
    await redis.flushdb()
    yield
    await redis.flushdb()


@pytest.fixture
async def client(
    session: AsyncSession, key_ring: KeyRing, clean_redis: None
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(app, session_dependency=database.session, session=session) as http:
        yield http


@pytest.fixture
async def committed_client(
    migrated: None, key_ring: KeyRing, clean_redis: None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app's real session dependency: every request commits or rolls back
    for real. Tests using it remove the users they created (see `committed_users`)."""
    transport = httpx.ASGITransport(app=app, client=(GATEWAY_PEER, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def committed_users(migrated: None) -> AsyncIterator[list[str]]:
    """E-mails of committed users to delete after the test (tokens and audit follow)."""
    emails: list[str] = []
    yield emails
    if emails:
        async with database.transaction() as db_session:
            ids = select(User.id).where(User.email.in_(emails)).scalar_subquery()
            await db_session.execute(delete(LoginAudit).where(LoginAudit.user_id.in_(ids)))
            await db_session.execute(delete(User).where(User.email.in_(emails)))


UserFactory = Callable[..., Awaitable[Account]]


@pytest.fixture
def make_user(session: AsyncSession, password_hash: str) -> UserFactory:
    """Insert a user (password `PASSWORD`) directly; returns its `Account`."""

    async def factory(role: Role = Role.USER, email: str | None = None) -> Account:
        created = await user_repository.insert_new(
            session,
            email=email or unique_email(role.value),
            password_hash=password_hash,
            name="Test User",
            role=role,
        )
        assert created is not None
        return Account(id=created.id, email=created.email, role=role)

    return factory


@pytest.fixture
async def user(make_user: UserFactory) -> Account:
    return await make_user()


@pytest.fixture
async def admin(make_user: UserFactory) -> Account:
    return await make_user(Role.ADMIN)


@pytest.fixture
def log_in() -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await log_in(client, user)`: the token pair of a successful login."""

    async def do_login(http: httpx.AsyncClient, who: Account) -> dict[str, Any]:
        response = await http.post(
            "/auth/login", json={"email": who.email, "password": who.password}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return do_login


@pytest.fixture
def child_env(key_ring: KeyRing) -> dict[str, str]:
    """The environment of a child process of auth-svc (CLI, uvicorn): same DB, same keys."""
    return {**os.environ, "AUTH_KEYS_DIR": str(key_store.directory)}

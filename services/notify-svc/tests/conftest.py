"""Fixtures of notify-svc's tests: real PostgreSQL and Redis, a real embedded Celery worker,
in-process ARQ workers, loopback webhook receivers and a loopback stand-in for auth-svc's
internal user lookup (`GET /internal/users/{id}`, the documented contract).

Integration tests need these variables (the CI test session exports them):
NOTIFY_DATABASE_URL, NOTIFY_REDIS_URL, NOTIFY_CELERY_BROKER_URL, NOTIFY_ARQ_REDIS_URL.
Unit tests (ssrf, config, backoff) need none of them.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from sqlalchemy import text

from taskhub_common.auth import Role, principal_dependency
from taskhub_common.loopback import LoopbackServer, StubRequest, StubResponse, json_response
from taskhub_common.testing import TokenMinter, migrate

REQUIRED_ENV = (
    "NOTIFY_DATABASE_URL",
    "NOTIFY_REDIS_URL",
    "NOTIFY_CELERY_BROKER_URL",
    "NOTIFY_ARQ_REDIS_URL",
)
ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
TABLES = "sent_emails, failed_notifications, reminders, processed_events, jobs"
TRUNCATE_TRIES = 3


# --- loopback HTTP servers ---------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver; the path picks the behaviour (`/ok`, `/fail`, `/redirect`, `/huge`,
    `/slow/<seconds>/...`: answers 200 after that long)."""

    host_port: str = ""
    requests: list[Received] = field(default_factory=list)
    # Requests to `/slow` paths being answered right now, and the most seen at once.
    slow_in_flight: int = 0
    slow_peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host_port}{path}"

    def hits(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]

    def respond(self, request: StubRequest) -> StubResponse:
        self.requests.append(Received(request.path, dict(request.headers.items()), request.body))
        if request.path.startswith("/fail"):
            return StubResponse(500, b'{"secret": "receiver internals"}', JSON)
        if request.path.startswith("/redirect"):
            return StubResponse(302, headers={"Location": self.url("/ok")})
        if request.path.startswith("/huge"):
            # 200 with a body that never ends: only a capped reader gets past it
            # (1 GiB at most, should the cap not work).
            endless = (b"x" * 65536 for _ in range(16384))
            return StubResponse(200, endless, {"Content-Type": "application/octet-stream"})
        if request.path.startswith("/slow/"):
            return self._slow(float(request.path.split("/")[2]))
        return StubResponse(200, b'{"ok": true}', JSON)

    def _slow(self, seconds: float) -> StubResponse:
        with self.lock:
            self.slow_in_flight += 1
            self.slow_peak = max(self.slow_peak, self.slow_in_flight)
        try:
            time.sleep(seconds)
            return StubResponse(200, b'{"ok": true}', JSON)
        finally:
            with self.lock:
                self.slow_in_flight -= 1


JSON = {"Content-Type": "application/json"}


@dataclass
class AuthStub:
    """auth-svc's internal user lookup, as documented: `{id, email, name, role}` or 404."""

    token: str
    url: str = ""
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: int = 0

    def add_user(self, user_id: uuid.UUID | None = None) -> uuid.UUID:
        user_id = user_id or uuid.uuid4()
        self.users[str(user_id)] = {
            "id": str(user_id),
            "email": f"user-{user_id.hex[:8]}@example.com",
            "name": "Test User",
            "role": "user",
        }
        return user_id

    def respond(self, request: StubRequest) -> StubResponse:
        self.calls += 1
        user_id = request.path.removeprefix("/internal/users/")
        if request.headers.get("X-Internal-Token") != self.token:
            return json_response({"error": {"code": "UNAUTHORIZED", "message": "no"}}, 401)
        if user_id in self.users:
            return json_response(self.users[user_id])
        return json_response({"error": {"code": "NOT_FOUND", "message": "no such user"}}, 404)


# --- environment ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def integration_env() -> None:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(
            "notify-svc integration tests need the test stack: set "
            + ", ".join(missing)
            + ": `uv run nox -s tests -- notify-svc` starts that stack and sets them; by hand,"
            " `uv run taskhub-stack up --infra-only` and export what `taskhub-stack env --test`"
            " prints",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def receiver(integration_env: None) -> Iterator[Receiver]:
    holder = Receiver()
    # POST only, as notify-svc delivers; the holder records the requests its own way.
    with LoopbackServer({"POST /*": holder.respond}, record=False) as server:
        holder.host_port = server.host_port
        yield holder


@pytest.fixture(scope="session")
def auth_stub(integration_env: None) -> Iterator[AuthStub]:
    from notify_svc.core.config import get_settings

    holder = AuthStub(token=get_settings().internal_token.get_secret_value())
    with LoopbackServer({"GET /*": holder.respond}, record=False) as server:
        holder.url = server.url
        yield holder


@pytest.fixture(scope="session")
def behaviour_env(receiver: Receiver, auth_stub: AuthStub) -> Iterator[None]:
    """Settings read at call time: where auth-svc is, the allowlist, fast backoff."""
    from notify_svc.core.config import get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NOTIFY_AUTH_URL", auth_stub.url)
        patch.setenv("NOTIFY_WEBHOOK_ALLOWLIST", receiver.host_port)
        patch.setenv("NOTIFY_RETRY_BACKOFF_SECONDS", "0.05")
        patch.setenv("NOTIFY_WEBHOOK_TIMEOUT_SECONDS", "5")
        patch.setenv("NOTIFY_WEBHOOK_MAX_RESPONSE_BYTES", "4096")
        patch.setenv("NOTIFY_STUCK_JOB_SECONDS", "30")
        patch.setenv("NOTIFY_ARQ_METRICS_PORT", "0")
        patch.setenv("NOTIFY_CELERY_METRICS_PORT", "0")
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def settings_override(behaviour_env: None) -> Iterator[Callable[..., None]]:
    """Change behaviour settings for one test (env + cache reset, undone afterwards)."""
    from notify_svc.core.config import get_settings

    with pytest.MonkeyPatch.context() as patch:

        def override(**values: str) -> None:
            for name, value in values.items():
                patch.setenv(f"NOTIFY_{name.upper()}", value)
            get_settings.cache_clear()

        yield override
    get_settings.cache_clear()


# --- database, Redis, workers ------------------------------------------------------------


@pytest.fixture(scope="session")
async def migrated(integration_env: None) -> None:
    await migrate(ALEMBIC_INI, os.environ["NOTIFY_DATABASE_URL"])


def _flush_redis() -> None:
    # The Celery db keeps kombu's queue bindings (the embedded worker declared them once);
    # everything else goes. ARQ's db is flushed whole.
    broker = Redis.from_url(os.environ["NOTIFY_CELERY_BROKER_URL"])
    keys = [key for key in broker.scan_iter() if not key.startswith(b"_kombu.binding.")]
    if keys:
        broker.delete(*keys)
    broker.close()
    arq = Redis.from_url(os.environ["NOTIFY_ARQ_REDIS_URL"])
    arq.flushdb()
    arq.close()


@pytest.fixture(scope="session")
def celery_worker(behaviour_env: None, migrated: None) -> Iterator[Any]:
    """A real Celery worker (solo pool, in a thread) consuming the test broker's e-mail
    and webhook queues."""
    from celery.contrib.testing.worker import start_worker

    from notify_svc.worker import tasks  # noqa: F401 - registers the tasks
    from notify_svc.worker.celery_app import app

    for url in (os.environ["NOTIFY_CELERY_BROKER_URL"], os.environ["NOTIFY_ARQ_REDIS_URL"]):
        client = Redis.from_url(url)
        client.flushdb()
        client.close()
    from notify_svc.worker.queues import DEFAULT_QUEUE, WEBHOOK_QUEUE

    with start_worker(
        app,
        pool="solo",
        perform_ping_check=False,
        shutdown_timeout=30,
        queues=[DEFAULT_QUEUE, WEBHOOK_QUEUE],
    ) as worker:
        yield worker


@pytest.fixture
async def clean(behaviour_env: None, migrated: None) -> None:
    """Empty tables and Redis before each integration test."""
    from sqlalchemy.exc import DBAPIError

    from notify_svc.clients.auth import auth_client
    from notify_svc.db.session import database

    auth_client.clear()  # each test's users are its own; no answer from an earlier test
    _flush_redis()
    # A delivery the previous test left to the embedded worker may still be committing:
    # PostgreSQL then picks the TRUNCATE as the deadlock victim. Its next try finds the
    # tables free (the delivery's message is gone with the flushed broker).
    for attempt in range(TRUNCATE_TRIES):
        try:
            async with database.engine.begin() as connection:
                await connection.execute(text(f"TRUNCATE {TABLES} CASCADE"))
            return
        except DBAPIError as exc:
            if "deadlock" not in str(exc) or attempt == TRUNCATE_TRIES - 1:
                raise
            await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
def minter(integration_env: None) -> TokenMinter:
    from notify_svc.core.config import get_settings

    settings = get_settings()
    return TokenMinter(issuer=settings.jwt_issuer, audience=settings.jwt_audience)


@pytest.fixture
async def client(clean: None, minter: TokenMinter) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process with its real, committing DB dependency; tokens from `minter`."""
    from notify_svc.api import deps
    from notify_svc.main import app
    from notify_svc.worker.dispatch import arq_pool

    app.dependency_overrides[deps.current_principal] = principal_dependency(lambda: minter.verifier)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        app.dependency_overrides.pop(deps.current_principal, None)
    await arq_pool.close()


@dataclass
class User:
    id: uuid.UUID
    headers: dict[str, str]


@pytest.fixture
def make_user(minter: TokenMinter) -> Callable[..., User]:
    def make(role: Role = Role.USER) -> User:
        user_id = uuid.uuid4()
        return User(user_id, minter.headers(user_id, role))

    return make


@pytest.fixture
def internal_headers(integration_env: None) -> dict[str, str]:
    from notify_svc.core.config import get_settings

    return {"X-Internal-Token": get_settings().internal_token.get_secret_value()}


async def _wait_for[T](
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    within: float = 10.0,
) -> T:
    """Poll `probe` until `done(value)`; the last value is returned either way."""
    deadline = time.monotonic() + within
    value = await probe()
    while not done(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        value = await probe()
    return value


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    """`await wait_for(probe, done, within=...)`: poll an async probe until done."""
    return _wait_for


@pytest.fixture
def job_status(client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Wait until the job (read through the API) reaches one of `statuses`."""

    async def wait(
        job_id: str, headers: dict[str, str], statuses: set[str], within: float = 10.0
    ) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            body: dict[str, Any] = (
                await client.get(f"/notify/jobs/{job_id}", headers=headers)
            ).json()
            return body

        return await _wait_for(read, lambda job: job.get("status") in statuses, within=within)

    return wait

"""Fixtures of task-svc's tests: the real test PostgreSQL and Redis, minted tokens, and
small loopback HTTP servers standing in for the other services' internal endpoints."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REQUIRED_ENV = ("TASKS_DATABASE_URL", "TASKS_REDIS_URL")
_missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
if _missing:
    raise pytest.UsageError(
        f"task-svc tests need {', '.join(_missing)} (the test stack's tasks database and "
        "Redis): `uv run nox -s tests -- task-svc` starts that stack and sets them; by hand, "
        "`uv run taskhub-stack up --infra-only` and export what `taskhub-stack env --test` prints"
    )

# Imported only once the environment is known to point at the test stack.
import asyncpg  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from task_svc.api import deps  # noqa: E402
from task_svc.core.config import get_settings  # noqa: E402
from task_svc.db.session import database, read_connections, redis  # noqa: E402
from task_svc.main import app  # noqa: E402
from task_svc.services.assignees import UserDirectory  # noqa: E402
from taskhub_common.auth import Role, principal_dependency  # noqa: E402
from taskhub_common.internal import AuthServiceEndpoint, internal_http_client  # noqa: E402
from taskhub_common.loopback import (  # noqa: E402
    LoopbackServer,
    Responder,
    StubRequest,
    StubResponse,
    json_response,
    route_to,
)
from taskhub_common.testing import TokenMinter, api_client, migrate, rollback_session  # noqa: E402

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
INTERNAL_TOKEN = get_settings().internal_token.get_secret_value()


@dataclass
class Loopback:
    """A real HTTP server on 127.0.0.1 answering POSTs/GETs from a scripted list of statuses."""

    statuses: list[int] = field(default_factory=list)
    default_status: int = 202
    requests: list[dict[str, Any]] = field(default_factory=list)
    known_users: set[str] = field(default_factory=set)
    delay_seconds: float = 0.0
    url: str = ""
    # False: answers the batch endpoint with 404, as a notify-svc without it would.
    batch_endpoint: bool = True
    # Event id -> the error message its batch result carries.
    batch_errors: dict[str, str] = field(default_factory=dict)

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.default_status


def _responder(state: Loopback) -> Responder:
    def user_lookup(request: StubRequest) -> StubResponse:
        # auth-svc's internal contract: GET /internal/users/{id} -> 200 user / 404.
        state.requests.append({"method": "GET", "path": request.path, "headers": request.headers})
        time.sleep(state.delay_seconds)
        if request.headers.get("X-Internal-Token") != INTERNAL_TOKEN:
            return json_response({"error": {"code": "UNAUTHORIZED", "message": "no"}}, 401)
        status = state.next_status()
        user_id = request.path.rsplit("/", 1)[-1]
        if status == 200 and user_id not in state.known_users:
            status = 404
        body = {"id": user_id, "email": "u@example.test", "name": "U", "role": "user"}
        return json_response(body if status == 200 else {"error": {"code": "X"}}, status)

    def event(request: StubRequest) -> StubResponse:
        body = request.json()
        if request.path.endswith("/internal/events/batch"):
            return batch(request, body)
        state.requests.append(
            {"method": "POST", "path": request.path, "headers": request.headers, "json": body}
        )
        time.sleep(state.delay_seconds)
        return json_response({}, state.next_status())

    def batch(request: StubRequest, body: dict[str, Any]) -> StubResponse:
        # notify-svc's batch contract: one result per event, in order, each with the
        # status the single-event endpoint would give. Each event is recorded like a
        # single-event request (its id as Idempotency-Key) so tests read both alike.
        events = body["events"]
        for event in events:
            headers = httpx.Headers(list(request.headers.items()))
            headers["Idempotency-Key"] = event["event_id"]
            state.requests.append(
                {"method": "POST", "path": request.path, "headers": headers, "json": event}
            )
        time.sleep(state.delay_seconds)
        if not state.batch_endpoint:
            return json_response({"error": {"code": "NOT_FOUND", "message": "no"}}, 404)
        if state.statuses and state.statuses[0] in WHOLE_REQUEST_STATUSES:
            # An overloaded or restarting notify-svc answers the request, not each event.
            return json_response({}, state.statuses.pop(0))
        results = [
            {"event_id": event["event_id"], "status": state.next_status(), "job_ids": []}
            for event in events
        ]
        for result in results:
            if result["event_id"] in state.batch_errors:
                message = state.batch_errors[result["event_id"]]
                result["error"] = {"code": "VALIDATION_ERROR", "message": message}
        return json_response({"results": results}, 200)

    return route_to({"GET /*": user_lookup, "POST /*": event})


# Statuses a batch gets as a whole (the gateway's or the server's), not per event.
WHOLE_REQUEST_STATUSES = frozenset({429, 502, 504})


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    state = Loopback()
    # The state records the requests its own way (a batch as one entry per event).
    with LoopbackServer(_responder(state), record=False) as server:
        state.url = server.url
        yield state


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nothing listens on (the port was bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
async def migrated() -> None:
    await migrate(ALEMBIC_INI, get_settings().database_url)


@pytest.fixture
async def session(migrated: None) -> AsyncIterator[AsyncSession]:
    async with rollback_session(database.engine) as test_session:
        yield test_session


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    settings = get_settings()
    return TokenMinter(issuer=settings.jwt_issuer, audience=settings.jwt_audience)


@pytest.fixture
def auth_svc(loopback: Loopback) -> Loopback:
    """The stand-in auth-svc; every user made by `make_user` is known to it."""
    loopback.default_status = 200
    return loopback


@pytest.fixture
def users(auth_svc: Loopback) -> UserDirectory:
    return UserDirectory(
        AuthServiceEndpoint(auth_svc.url, INTERNAL_TOKEN, internal_http_client(2.0)),
        redis=redis,
        positive_ttl_seconds=600,
        negative_ttl_seconds=30,
    )


@pytest.fixture
def make_user(auth_svc: Loopback, minter: TokenMinter) -> Callable[..., User]:
    def make(role: Role = Role.USER) -> User:
        user_id = uuid.uuid4()
        auth_svc.known_users.add(str(user_id))
        return User(id=user_id, headers=minter.headers(user_id, role))

    return make


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    headers: dict[str, str]


@dataclass(frozen=True)
class SessionReads:
    """The read pool's stand-in: lends the asyncpg connection of the test's transaction."""

    session: AsyncSession

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        raw = await (await self.session.connection()).get_raw_connection()
        assert isinstance(raw.driver_connection, asyncpg.Connection)
        yield raw.driver_connection


@pytest.fixture
async def client(
    session: AsyncSession, minter: TokenMinter, users: UserDirectory
) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process: DB work in the rolled-back test transaction, tokens from `minter`."""
    app.dependency_overrides[deps.current_principal] = principal_dependency(lambda: minter.verifier)
    app.dependency_overrides[deps.user_directory] = lambda: users

    # Reads see the test transaction's uncommitted rows: they use its connection.
    app.dependency_overrides[read_connections] = lambda: SessionReads(session)
    try:
        async with api_client(
            app, session_dependency=database.session, session=session
        ) as test_client:
            yield test_client
    finally:
        app.dependency_overrides.clear()


@pytest.fixture
def create_task(client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    """POST /tasks as `user`, asserting success; returns the task."""

    async def create(user: User, **fields: Any) -> dict[str, Any]:
        body = {"title": "A task", **fields}
        response = await client.post("/tasks", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    return create

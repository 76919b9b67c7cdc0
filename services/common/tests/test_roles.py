"""Admin claims confirmed against auth-svc's internal user lookup, cached per process."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from taskhub_common.auth import Principal, Role, TokenVerifier, principal_dependency
from taskhub_common.errors import Unauthorized, install_error_handlers
from taskhub_common.internal import AuthServiceEndpoint
from taskhub_common.loopback import LoopbackServer, StubRequest, StubResponse, json_response
from taskhub_common.roles import CurrentRoles, RolesUnavailable
from taskhub_common.testing import TokenMinter

INTERNAL_TOKEN = "internal-test-token"
TTL = 0.3


class _UserDirectory:
    """A real loopback HTTP server speaking auth-svc's `GET /internal/users/{id}` contract."""

    def __init__(self) -> None:
        self.roles: dict[str, str] = {}
        self.lookups: list[str] = []
        self.status: int | None = None  # forces an answer (a broken auth-svc)
        self.body: bytes | None = None
        self.server = LoopbackServer({"GET /internal/users/*": self._lookup})
        self.url = self.server.url

    def _lookup(self, request: StubRequest) -> StubResponse:
        user_id = request.route.rsplit("/", 1)[-1]
        self.lookups.append(user_id)
        if request.headers.get("X-Internal-Token") != INTERNAL_TOKEN:
            return self._reply(401, {"error": {"code": "UNAUTHORIZED", "message": "no"}})
        if self.status is not None:
            return self._reply(self.status, {"error": {"code": "X", "message": "x"}})
        if user_id not in self.roles:
            return self._reply(404, {"error": {"code": "NOT_FOUND", "message": "no"}})
        body = {"id": user_id, "email": "u@example.test", "name": "U"}
        return self._reply(200, body | {"role": self.roles[user_id]})

    def _reply(self, status: int, body: dict[str, Any]) -> StubResponse:
        if self.body is None:
            return json_response(body, status)
        return StubResponse(status, self.body, {"Content-Type": "application/json"})

    def add(self, role: Role) -> uuid.UUID:
        user_id = uuid.uuid4()
        self.roles[str(user_id)] = role.value
        return user_id


@pytest.fixture
def directory() -> Iterator[_UserDirectory]:
    server = _UserDirectory()
    with server.server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def _roles(url: str, http: httpx.AsyncClient, *, token: str = INTERNAL_TOKEN) -> CurrentRoles:
    return CurrentRoles(AuthServiceEndpoint(url, token, http), ttl_seconds=TTL)


@pytest.fixture
def roles(directory: _UserDirectory, http: httpx.AsyncClient) -> CurrentRoles:
    return _roles(directory.url, http)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_a_current_admin_stays_admin_and_is_looked_up_once_per_ttl(
    directory: _UserDirectory, roles: CurrentRoles
) -> None:
    admin = Principal(directory.add(Role.ADMIN), Role.ADMIN)
    for _ in range(3):
        assert await roles.confirm(admin) == admin
    assert len(directory.lookups) == 1
    await asyncio.sleep(TTL)
    assert await roles.confirm(admin) == admin
    assert len(directory.lookups) == 2


async def test_a_demoted_admin_is_a_plain_user_once_the_ttl_has_passed(
    directory: _UserDirectory, roles: CurrentRoles
) -> None:
    user_id = directory.add(Role.ADMIN)
    claim = Principal(user_id, Role.ADMIN)
    assert (await roles.confirm(claim)).is_admin
    directory.roles[str(user_id)] = Role.USER.value
    await asyncio.sleep(TTL)
    assert await roles.confirm(claim) == Principal(user_id, Role.USER)


@pytest.mark.parametrize("answered", ["user", "superadmin", "", "ADMIN"])
async def test_only_an_explicit_admin_answer_grants_admin(
    directory: _UserDirectory, roles: CurrentRoles, answered: str
) -> None:
    user_id = directory.add(Role.ADMIN)
    directory.roles[str(user_id)] = answered
    assert await roles.confirm(Principal(user_id, Role.ADMIN)) == Principal(user_id, Role.USER)


async def test_a_deleted_admin_is_refused_and_the_answer_is_cached(
    directory: _UserDirectory, roles: CurrentRoles
) -> None:
    ghost = Principal(uuid.uuid4(), Role.ADMIN)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await roles.confirm(ghost)
    assert directory.lookups == [str(ghost.user_id)]


async def test_a_plain_user_is_never_looked_up(
    directory: _UserDirectory, roles: CurrentRoles
) -> None:
    user = Principal(uuid.uuid4(), Role.USER)
    assert await roles.confirm(user) is user
    assert directory.lookups == []


async def test_an_unreachable_auth_svc_fails_closed(http: httpx.AsyncClient) -> None:
    roles = _roles(_closed_port_url(), http)
    with pytest.raises(RolesUnavailable) as raised:
        await roles.confirm(Principal(uuid.uuid4(), Role.ADMIN))
    assert raised.value.status_code == 503
    assert raised.value.headers == {"Retry-After": "5"}


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (200, b"[]"), (200, b"not json"), (200, b'{"id": "x"}')],
    ids=["error", "a list", "not json", "no role"],
)
async def test_a_useless_answer_fails_closed_and_is_not_cached(
    directory: _UserDirectory, roles: CurrentRoles, status: int, body: bytes | None
) -> None:
    admin = Principal(directory.add(Role.ADMIN), Role.ADMIN)
    directory.status = None if status == 200 else status
    directory.body = body
    with pytest.raises(RolesUnavailable):
        await roles.confirm(admin)
    directory.status, directory.body = None, None
    assert await roles.confirm(admin) == admin  # auth-svc is back: at once, no TTL to wait


async def test_a_refused_internal_token_fails_closed(
    directory: _UserDirectory, http: httpx.AsyncClient
) -> None:
    roles = _roles(directory.url, http, token="not-the-internal-token")
    with pytest.raises(RolesUnavailable):
        await roles.confirm(Principal(directory.add(Role.ADMIN), Role.ADMIN))


async def test_the_cache_keeps_the_most_recent_users_within_its_size(
    directory: _UserDirectory, http: httpx.AsyncClient
) -> None:
    roles = CurrentRoles(AuthServiceEndpoint(directory.url, INTERNAL_TOKEN, http), max_size=2)
    admins = [Principal(directory.add(Role.ADMIN), Role.ADMIN) for _ in range(3)]
    for admin in admins:
        await roles.confirm(admin)
    assert len(roles) == 2
    await roles.confirm(admins[0])  # evicted: asked again
    assert len(directory.lookups) == 4


async def test_a_zero_ttl_caches_nothing(
    directory: _UserDirectory, http: httpx.AsyncClient
) -> None:
    roles = CurrentRoles(AuthServiceEndpoint(directory.url, INTERNAL_TOKEN, http), ttl_seconds=0)
    admin = Principal(directory.add(Role.ADMIN), Role.ADMIN)
    await roles.confirm(admin)
    await roles.confirm(admin)
    assert len(roles) == 0
    assert len(directory.lookups) == 2


def _app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    current = principal_dependency(lambda: verifier)

    @app.get("/whoami")
    async def whoami(principal: Principal = Depends(current)) -> dict[str, str]:
        return {"role": principal.role.value}

    return app


async def test_through_the_verifier_an_old_admin_token_follows_the_directory(
    directory: _UserDirectory, http: httpx.AsyncClient
) -> None:
    minter = TokenMinter(issuer="taskhub-auth", audience="taskhub")
    verifier = TokenVerifier(
        minter.verifier.keys,
        issuer=minter.issuer,
        audience=minter.audience,
        roles=_roles(directory.url, http),
    )
    user_id = directory.add(Role.ADMIN)
    headers = {"Authorization": f"Bearer {minter.access_token(user_id, Role.ADMIN)}"}
    plain = {"Authorization": f"Bearer {minter.access_token(uuid.uuid4())}"}
    transport = httpx.ASGITransport(app=_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/whoami", headers=headers)).json() == {"role": "admin"}
        assert (await client.get("/whoami", headers=plain)).json() == {"role": "user"}
        directory.roles[str(user_id)] = "user"
        await asyncio.sleep(TTL)
        assert (await client.get("/whoami", headers=headers)).json() == {"role": "user"}
        del directory.roles[str(user_id)]
        await asyncio.sleep(TTL)
        gone = await client.get("/whoami", headers=headers)
        directory.server.stop()
        await asyncio.sleep(TTL)
        down = await client.get("/whoami", headers=headers)
        still_plain = await client.get("/whoami", headers=plain)
    assert len(directory.lookups) == 3  # the plain user's token was never looked up
    assert gone.status_code == 401
    assert gone.json()["error"]["code"] == "UNAUTHORIZED"
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert down.headers["retry-after"] == "5"
    assert still_plain.status_code == 200

"""The service kit: one lifespan shape, clients built once and again after a close."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import Depends, FastAPI

from taskhub_common.auth import Principal, Role
from taskhub_common.errors import install_error_handlers
from taskhub_common.service import AuthServiceClients, ServiceKit, admin_dependency
from taskhub_common.settings import AuthCallerSettings

# Nothing listens there: building the clients opens no connection.
SETTINGS = AuthCallerSettings(
    database_url="postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none",
    redis_url="redis://127.0.0.1:1/0",
    auth_url="http://127.0.0.1:1",
)


async def test_the_lifespan_runs_extras_in_order_and_closes_the_kit_last() -> None:
    kit = ServiceKit(SETTINGS)
    client = kit.http_client()
    events: list[str] = []

    def extra(name: str) -> object:
        @asynccontextmanager
        async def run() -> AsyncIterator[None]:
            events.append(f"start {name}")
            yield
            events.append(f"stop {name} (client open: {not client.is_closed})")

        return run

    async with kit.lifespan(extra("a"), extra("b"))(FastAPI()):  # type: ignore[arg-type]
        events.append("serve")

    assert events == [
        "start a",
        "start b",
        "serve",
        "stop b (client open: True)",
        "stop a (client open: True)",
    ]
    assert client.is_closed


async def test_auth_clients_share_one_endpoint_and_are_rebuilt_with_a_new_client() -> None:
    kit = ServiceKit(SETTINGS)
    auth = AuthServiceClients(kit, SETTINGS)
    endpoint, verifier, keys = auth.endpoint(), auth.token_verifier(), auth.api_key_lookup()
    assert (endpoint.base_url, endpoint.token) == ("http://127.0.0.1:1", "dev-internal-token")
    assert keys.auth is endpoint
    assert auth.token_verifier() is verifier

    await kit.aclose()

    assert auth.endpoint() is not endpoint
    assert auth.endpoint().client is kit.http_client()
    assert not kit.http_client().is_closed
    assert auth.token_verifier() is not verifier
    await kit.aclose()


async def test_the_admin_dependency_admits_administrators_only() -> None:
    role = Role.USER

    async def caller() -> Principal:
        return Principal(user_id=uuid.uuid4(), role=role)

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/admin")
    async def admin_only(_: Principal = Depends(admin_dependency(caller))) -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/admin")).status_code == 403
        role = Role.ADMIN
        assert (await client.get("/admin")).status_code == 200

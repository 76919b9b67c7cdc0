"""A dependency that cannot be reached is a 503 with Retry-After in every service, not a 500."""

# No `from __future__ import annotations`: the routes below annotate with local dependencies,
# which FastAPI must see as objects, not as names to resolve in the module.
import logging
import socket
from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
import httpx
import pytest
import redis.asyncio
import redis.exceptions
import sqlalchemy.exc
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from taskhub_common.app import create_app
from taskhub_common.db import Database
from taskhub_common.outages import unavailable_dependency

from .conftest import DemoSettings


def _wrapped(cause: BaseException, outer: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("error", "dependency"),
    [
        (ConnectionRefusedError(111, "refused"), "database"),
        (TimeoutError(), "database"),
        (asyncpg.CannotConnectNowError("the database system is starting up"), "database"),
        (asyncpg.AdminShutdownError("terminating connection"), "database"),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), "database"),
        (
            sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "x")),
            "database",
        ),
        (sqlalchemy.exc.TimeoutError("QueuePool limit reached"), "database"),
        (_wrapped(asyncpg.AdminShutdownError("bye"), RuntimeError("wrapped")), "database"),
        (redis.exceptions.ConnectionError("refused"), "redis"),
        (redis.exceptions.TimeoutError(), "redis"),
        (asyncpg.UniqueViolationError("duplicate key"), None),
        (sqlalchemy.exc.IntegrityError("INSERT", {}, ValueError("dup")), None),
        (ValueError("a bug"), None),
    ],
)
def test_outages_are_told_apart_from_bugs(error: BaseException, dependency: str | None) -> None:
    assert unavailable_dependency(error) == dependency


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _outage_router(live: Database, dead: Database, dead_redis: redis.asyncio.Redis) -> APIRouter:
    router = APIRouter(prefix="/demo")

    @router.get("/db/down")
    async def database_down(session: Annotated[AsyncSession, Depends(dead.session)]) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    @router.get("/db/killed")
    async def backend_killed(session: Annotated[AsyncSession, Depends(live.session)]) -> int:
        # What a PostgreSQL restart does to a connection in use: the server ends the backend.
        await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return 1

    @router.get("/db/up")
    async def database_up(session: Annotated[AsyncSession, Depends(live.session)]) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    @router.get("/redis/down")
    async def redis_down() -> int:
        return int(await dead_redis.incr("outage-test"))

    @router.get("/bug")
    async def bug() -> None:
        raise ValueError("not an outage")

    return router


@pytest.fixture
async def outage_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    live = Database(database_url, pool_size=1)
    dead_url = make_url(database_url).set(host="127.0.0.1", port=_closed_port())
    dead = Database(dead_url.render_as_string(hide_password=False), pool_size=1)
    dead_redis = redis.asyncio.Redis(port=_closed_port())
    app: FastAPI = create_app(
        DemoSettings(),
        prefix="/demo",
        title="Outages",
        description="Routes whose dependencies are down.",
        routers=[_outage_router(live, dead, dead_redis)],
        readiness={},
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await live.dispose()
    await dead.dispose()
    await dead_redis.aclose()


def _assert_outage(response: httpx.Response, dependency: str) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert dependency in error["message"]
    assert error["request_id"] == response.headers["x-request-id"]


@pytest.mark.integration
async def test_a_stopped_database_is_a_503_with_retry_after(
    outage_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="taskhub_common.middleware"):
        response = await outage_client.get("/demo/db/down")

    _assert_outage(response, "database")
    ours = [r for r in caplog.records if r.name == "taskhub_common.middleware"]
    assert [r.getMessage() for r in ours] == ["dependency unavailable"]
    assert all(r.exc_info is None for r in ours)  # a warning, not a traceback


@pytest.mark.integration
async def test_a_connection_lost_mid_request_is_a_503_and_the_pool_recovers(
    outage_client: httpx.AsyncClient,
) -> None:
    _assert_outage(await outage_client.get("/demo/db/killed"), "database")

    recovered = await outage_client.get("/demo/db/up")

    assert recovered.status_code == 200
    assert recovered.json() == 1


@pytest.mark.integration
async def test_an_unreachable_redis_is_a_503(outage_client: httpx.AsyncClient) -> None:
    _assert_outage(await outage_client.get("/demo/redis/down"), "redis")


@pytest.mark.integration
async def test_a_bug_is_still_a_500(outage_client: httpx.AsyncClient) -> None:
    response = await outage_client.get("/demo/bug")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"

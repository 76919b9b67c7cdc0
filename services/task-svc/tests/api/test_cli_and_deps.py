"""The management command and the production wiring of the dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from task_svc import cli
from task_svc.api import deps
from task_svc.core.config import get_settings
from task_svc.core.http import close_http_client, http_client
from task_svc.db.read_pool import ReadPool
from task_svc.db.session import read_connections
from task_svc.main import app
from taskhub_common.auth import JwksKeySource, Role, TokenVerifier, principal_dependency
from taskhub_common.errors import ServiceUnavailable
from taskhub_common.roles import CurrentRoles
from taskhub_common.testing import TokenMinter, check_env_example


def test_migrate_command_reaches_head() -> None:
    # Synchronous on purpose: Alembic's async env runs its own event loop.
    assert cli.main(["migrate"]) == 0


async def test_the_verifier_trusts_the_configured_jwks() -> None:
    settings = get_settings()
    deps.token_verifier.cache_clear()
    verifier = deps.token_verifier()
    assert isinstance(verifier.keys, JwksKeySource)
    assert verifier.keys.url == settings.jwks_url
    assert verifier.keys.client is http_client()
    assert (verifier.issuer, verifier.audience) == (settings.jwt_issuer, settings.jwt_audience)
    assert verifier.keys.max_age_seconds == settings.jwks_max_age_seconds
    deps.token_verifier.cache_clear()


async def test_the_verifier_confirms_admin_claims_with_the_configured_auth_svc() -> None:
    settings = get_settings()
    deps.token_verifier.cache_clear()
    roles = deps.token_verifier().roles
    assert isinstance(roles, CurrentRoles)
    assert roles.auth_url == settings.auth_url.rstrip("/")
    assert roles.internal_token == settings.internal_token.get_secret_value()
    assert roles.client is http_client()
    assert roles.ttl_seconds == settings.admin_role_cache_seconds
    deps.token_verifier.cache_clear()


async def test_an_admin_claim_auth_svc_cannot_confirm_is_a_503_a_users_request_is_not(
    client: httpx.AsyncClient,
    minter: TokenMinter,
    make_user: Callable[..., Any],
    closed_port_url: str,
) -> None:
    async with httpx.AsyncClient(timeout=1.0) as http:
        verifier = TokenVerifier(
            minter.verifier.keys,
            issuer=minter.issuer,
            audience=minter.audience,
            roles=CurrentRoles(
                auth_url=closed_port_url,
                internal_token=get_settings().internal_token.get_secret_value(),
                client=http,
            ),
        )
        app.dependency_overrides[deps.current_principal] = principal_dependency(lambda: verifier)
        admin = await client.get("/tasks", headers=make_user(Role.ADMIN).headers)
        user = await client.get("/tasks", headers=make_user().headers)

    assert admin.status_code == 503
    assert admin.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert admin.headers["retry-after"] == "5"
    assert user.status_code == 200


async def test_the_user_directory_uses_the_shared_client_and_settings() -> None:
    directory = await deps.user_directory()
    settings = get_settings()
    assert directory.auth_url == settings.auth_url.rstrip("/")
    assert directory.client is http_client()
    assert directory.positive_ttl_seconds == settings.assignee_cache_seconds
    assert directory.negative_ttl_seconds == settings.assignee_negative_cache_seconds


async def test_the_shared_client_is_recreated_after_close() -> None:
    first = http_client()
    await close_http_client()
    assert first.is_closed
    second = http_client()
    assert second is not first
    assert not second.is_closed


async def test_read_connections_run_outside_a_transaction(migrated: None) -> None:
    # Autocommit: each statement is its own transaction, so now() moves between them.
    async with (await read_connections()).connection() as connection:
        first = await connection.fetchval("SELECT now()")
        await asyncio.sleep(0.01)
        second = await connection.fetchval("SELECT now()")
    assert first != second


def test_env_example_documents_every_setting() -> None:
    from pathlib import Path

    from task_svc.core.config import Settings

    check_env_example(Settings, Path(__file__).resolve().parents[2] / ".env.example")


async def test_an_unreachable_read_database_is_a_503_envelope() -> None:
    pool = ReadPool("postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none", size=1)
    with pytest.raises(ServiceUnavailable):
        async with pool.connection():
            pass  # pragma: no cover - never reached
    await pool.close()


async def test_the_read_pool_opens_once_and_closes(migrated: None) -> None:
    pool = ReadPool(get_settings().database_url, size=2)
    async with pool.connection() as first, pool.connection() as second:
        assert await first.fetchval("SELECT 1") == await second.fetchval("SELECT 1") == 1
    await pool.close()
    await pool.close()  # closing twice is harmless


async def test_a_read_connection_lost_mid_request_is_a_503_and_is_replaced(
    migrated: None,
) -> None:
    pool, killer = (ReadPool(get_settings().database_url, size=1) for _ in range(2))

    async def read_after_the_backend_is_killed() -> None:
        async with pool.connection() as connection:
            backend = await connection.fetchval("SELECT pg_backend_pid()")
            async with killer.connection() as other:
                await other.fetchval("SELECT pg_terminate_backend($1)", backend)
            await connection.fetchval("SELECT 1")

    with pytest.raises(ServiceUnavailable):
        await read_after_the_backend_is_killed()
    async with pool.connection() as connection:  # the pool opens a new one
        assert await connection.fetchval("SELECT 1") == 1
    await pool.close()
    await killer.close()


async def test_no_internal_route_is_published(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/tasks/openapi.json")).json()
    assert "/tasks" in spec["paths"]
    assert [path for path in spec["paths"] if "/internal" in path] == []

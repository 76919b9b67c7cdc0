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
from task_svc.db.read_pool import ReadPool
from task_svc.db.session import kit, read_connections
from task_svc.main import app
from taskhub_common.auth import JwksKeySource, Role, TokenVerifier, principal_dependency
from taskhub_common.errors import ServiceUnavailable
from taskhub_common.internal import AuthServiceEndpoint
from taskhub_common.roles import CurrentRoles
from taskhub_common.testing import TokenMinter, check_env_example


def test_migrate_command_reaches_head() -> None:
    # Synchronous on purpose: Alembic's async env runs its own event loop.
    assert cli.main(["migrate"]) == 0


async def test_the_verifier_trusts_the_configured_jwks() -> None:
    settings = get_settings()
    verifier = deps.auth_service.token_verifier()
    assert isinstance(verifier.keys, JwksKeySource)
    assert verifier.keys.url == settings.jwks_url
    assert verifier.keys.client is kit.http_client()
    assert (verifier.issuer, verifier.audience) == (settings.jwt_issuer, settings.jwt_audience)
    assert verifier.keys.max_age_seconds == settings.jwks_max_age_seconds


async def test_the_verifier_confirms_admin_claims_with_the_configured_auth_svc() -> None:
    settings = get_settings()
    roles = deps.auth_service.token_verifier().roles
    assert isinstance(roles, CurrentRoles)
    assert roles.auth == deps.auth_service.endpoint()
    assert roles.auth.base_url == settings.auth_url
    assert roles.auth.token == settings.internal_token.get_secret_value()
    assert roles.auth.client is kit.http_client()
    assert roles.ttl_seconds == settings.admin_role_cache_seconds


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
                AuthServiceEndpoint(
                    closed_port_url, get_settings().internal_token.get_secret_value(), http
                )
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
    assert directory.auth is deps.auth_service.endpoint()
    assert directory.auth.client is kit.http_client()
    assert directory.positive_ttl_seconds == settings.assignee_cache_seconds
    assert directory.negative_ttl_seconds == settings.assignee_negative_cache_seconds


async def test_the_shared_client_and_what_uses_it_are_recreated_after_close() -> None:
    first, verifier = kit.http_client(), deps.auth_service.token_verifier()
    await first.aclose()
    second = kit.http_client()
    assert second is not first
    assert not second.is_closed
    assert deps.auth_service.token_verifier() is not verifier
    assert deps.auth_service.endpoint().client is second


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

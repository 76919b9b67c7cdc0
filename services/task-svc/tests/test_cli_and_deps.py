"""The management command and the production wiring of the dependencies."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from task_svc import cli
from task_svc.api import deps
from task_svc.core.config import get_settings
from task_svc.core.http import close_http_client, http_client
from task_svc.db.session import read_connection
from taskhub_common.auth import JwksKeySource


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
    deps.token_verifier.cache_clear()


async def test_the_user_directory_uses_the_shared_client_and_settings() -> None:
    directory = deps.user_directory()
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


async def test_the_read_connection_runs_outside_a_transaction(migrated: None) -> None:
    # Autocommit: each statement is its own transaction, so now() moves between them.
    async for connection in read_connection():
        first = await connection.scalar(text("SELECT now()"))
        await asyncio.sleep(0.01)
        second = await connection.scalar(text("SELECT now()"))
    assert first != second


def test_env_example_documents_every_setting() -> None:
    from pathlib import Path

    from task_svc.core.config import Settings

    example = Path(__file__).resolve().parents[1] / ".env.example"
    documented = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line.startswith("TASKS_")
    }
    assert documented == {f"TASKS_{name.upper()}" for name in Settings.model_fields}

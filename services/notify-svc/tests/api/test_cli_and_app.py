"""The process entry points: migrate command, readiness, token verifier, worker runtime."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_migrate_command_is_idempotent(integration_env: None) -> None:
    from notify_svc.cli import main

    assert main(["migrate"]) == 0
    assert main(["migrate"]) == 0


async def test_readiness_checks_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/notify/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_default_verifier_reads_the_jwks_url(integration_env: None) -> None:
    from notify_svc.api.deps import auth_service
    from taskhub_common.auth import JwksKeySource

    verifier = auth_service.token_verifier()
    assert isinstance(verifier.keys, JwksKeySource)
    assert verifier.keys.url == auth_service.settings.jwks_url


async def test_worker_runtime_keeps_one_loop_per_thread(behaviour_env: None) -> None:
    from notify_svc.worker.runtime import WorkerRuntime

    runtime = WorkerRuntime()

    def use_twice() -> bool:
        async def loop_id(_: object) -> int:
            return id(asyncio.get_running_loop())

        first = runtime.run(loop_id)
        second = runtime.run(loop_id)
        runtime.run(lambda database: database.ping())
        runtime.close()
        runtime.close()  # closing twice is harmless
        return first == second

    assert await asyncio.to_thread(use_twice)

"""The per-user creation limit through the API: exact, per user, honest headers, fail-open."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from task_svc.api import deps
from task_svc.main import app
from taskhub_common.rate_limit import UserRateLimiter, redis_storage

REJECTIONS = ("taskhub_rate_limit_rejections_total", {"limit": "task_create"})


def _rejections() -> float:
    return REGISTRY.get_sample_value(*REJECTIONS) or 0.0


async def _create(client: httpx.AsyncClient, user: Any, title: str = "t") -> httpx.Response:
    return await client.post("/tasks", json={"title": title}, headers=user.headers)


@pytest.fixture
def use_limiter() -> Iterator[Callable[..., None]]:
    """Swap the app's creation limiter for one with another limit or storage."""

    def install(limit: str, redis_url: str | None = None) -> None:
        from task_svc.core.config import get_settings

        storage = redis_storage(redis_url or get_settings().redis_url)
        limiter = UserRateLimiter(storage, limit, policy="create", metric_label="task_create")
        app.dependency_overrides[deps.creation_limiter] = lambda: limiter

    yield install
    app.dependency_overrides.pop(deps.creation_limiter, None)


async def test_the_61st_creation_within_a_minute_is_refused(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice, bob = make_user(), make_user()
    rejections_before = _rejections()

    accepted = [await _create(client, alice, f"t{i}") for i in range(60)]
    refused = await _create(client, alice)
    other_user = await _create(client, bob)

    assert [r.status_code for r in accepted] == [201] * 60
    assert [r.headers["RateLimit"].split(";")[1] for r in accepted] == [
        f"r={remaining}" for remaining in range(59, -1, -1)
    ]
    assert {r.headers["RateLimit-Policy"] for r in accepted} == {'"create";q=60;w=60'}
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit"].startswith('"create";r=0;t=')
    assert other_user.status_code == 201
    assert other_user.headers["RateLimit"].startswith('"create";r=59;')
    assert _rejections() == rejections_before + 1
    total = (await client.get("/tasks", headers=alice.headers)).json()["total"]
    assert total == 60


async def test_the_window_moves(
    client: httpx.AsyncClient, make_user: Callable[..., Any], use_limiter: Callable[[str], None]
) -> None:
    use_limiter("3/2 seconds")
    alice = make_user()
    statuses = [(await _create(client, alice)).status_code for _ in range(4)]
    refused = await _create(client, alice)
    await asyncio.sleep(int(refused.headers["Retry-After"]) + 0.1)
    again = await _create(client, alice)

    assert statuses == [201, 201, 201, 429]
    assert refused.status_code == 429
    assert again.status_code == 201


async def test_refused_bodies_count_but_unauthenticated_requests_do_not(
    client: httpx.AsyncClient, make_user: Callable[..., Any], use_limiter: Callable[[str], None]
) -> None:
    use_limiter("2/minute")
    alice = make_user()
    for _ in range(3):
        assert (await client.post("/tasks", json={"title": "t"})).status_code == 401

    invalid = await client.post("/tasks", json={"title": ""}, headers=alice.headers)
    valid = await _create(client, alice)
    over = await client.post("/tasks", json={"title": ""}, headers=alice.headers)

    assert invalid.status_code == 422
    assert valid.status_code == 201
    assert valid.headers["RateLimit"].startswith('"create";r=0;')
    assert over.status_code == 429


async def test_redis_down_fails_open_with_a_warning(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    use_limiter: Callable[..., None],
    closed_port_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_limiter("1/minute", closed_port_url.replace("http://", "redis://") + "/0")
    alice = make_user()
    with caplog.at_level(logging.WARNING):
        responses = [await _create(client, alice) for _ in range(3)]

    assert [r.status_code for r in responses] == [201, 201, 201]
    assert "RateLimit" not in responses[0].headers
    assert "rate limit storage unavailable" in caplog.messages


async def test_rejections_are_exported_as_metrics(client: httpx.AsyncClient) -> None:
    text = (await client.get("/tasks/metrics")).text
    assert 'taskhub_rate_limit_rejections_total{limit="task_create"}' in text

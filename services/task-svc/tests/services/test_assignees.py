"""Assignee existence checks against auth-svc's internal contract (a loopback stand-in
implementing `GET /internal/users/{id}`; the real auth-svc is exercised in test_with_auth_svc)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from task_svc.api import deps
from task_svc.core.config import get_settings
from task_svc.db.session import redis
from task_svc.main import app
from task_svc.services.assignees import UserDirectory
from task_svc.services.errors import UserDirectoryUnavailable
from taskhub_common.internal import AuthServiceEndpoint

CreateTask = Callable[..., Awaitable[dict[str, Any]]]
INTERNAL_TOKEN = get_settings().internal_token.get_secret_value()


def _directory(auth_url: str, *, timeout: float = 2.0, cache: Redis = redis) -> UserDirectory:
    return UserDirectory(
        AuthServiceEndpoint(auth_url, INTERNAL_TOKEN, httpx.AsyncClient(timeout=timeout)),
        redis=cache,
        positive_ttl_seconds=600,
        negative_ttl_seconds=30,
    )


async def test_known_assignee_is_accepted_and_cached(
    client: httpx.AsyncClient, make_user: Callable[..., Any], auth_svc: Any
) -> None:
    alice, bob = make_user(), make_user()
    for _ in range(2):
        response = await client.post(
            "/tasks", json={"title": "t", "assignee_id": str(bob.id)}, headers=alice.headers
        )
        assert response.status_code == 201
        assert response.json()["assignee_id"] == str(bob.id)

    lookups = [r for r in auth_svc.requests if r["path"] == f"/internal/users/{bob.id}"]
    assert len(lookups) == 1
    assert lookups[0]["headers"]["X-Internal-Token"] == INTERNAL_TOKEN
    assert 590 <= await redis.ttl(f"tasks:user-exists:{bob.id}") <= 600


async def test_unknown_assignee_is_422_on_the_field_and_cached_briefly(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice, ghost = make_user(), uuid.uuid4()
    created = await client.post(
        "/tasks", json={"title": "t", "assignee_id": str(ghost)}, headers=alice.headers
    )
    task = await create_task(alice)
    patched = await client.patch(
        f"/tasks/{task['id']}", json={"assignee_id": str(ghost)}, headers=alice.headers
    )

    for response in (created, patched):
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"] == [
            {"field": "body.assignee_id", "message": "No user has this id."}
        ]
    assert 0 < await redis.ttl(f"tasks:user-exists:{ghost}") <= 30


async def test_unchanged_or_cleared_assignee_needs_no_lookup(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask, auth_svc: Any
) -> None:
    alice, bob = make_user(), make_user()
    task = await create_task(alice, assignee_id=str(bob.id))
    auth_svc.default_status = 500  # any lookup now would fail
    url = f"/tasks/{task['id']}"

    same = await client.patch(url, json={"assignee_id": str(bob.id)}, headers=alice.headers)
    cleared = await client.patch(url, json={"assignee_id": None}, headers=alice.headers)

    assert same.status_code == 200
    assert cleared.json()["assignee_id"] is None


@pytest.mark.parametrize("status", [500, 502, 401])
async def test_auth_svc_errors_are_503(
    client: httpx.AsyncClient, make_user: Callable[..., Any], auth_svc: Any, status: int
) -> None:
    auth_svc.default_status = status
    response = await client.post(
        "/tasks",
        json={"title": "t", "assignee_id": str(uuid.uuid4())},
        headers=make_user().headers,
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "auth" not in response.json()["error"]["message"].lower()


async def test_auth_svc_down_is_503_and_nothing_is_created(
    client: httpx.AsyncClient, make_user: Callable[..., Any], closed_port_url: str
) -> None:
    app.dependency_overrides[deps.user_directory] = lambda: _directory(closed_port_url)
    alice = make_user()
    response = await client.post(
        "/tasks", json={"title": "t", "assignee_id": str(uuid.uuid4())}, headers=alice.headers
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert (await client.get("/tasks", headers=alice.headers)).json()["total"] == 0


async def test_auth_svc_timeout_is_503(auth_svc: Any) -> None:
    auth_svc.delay_seconds = 0.5
    directory = _directory(auth_svc.url, timeout=0.1)
    with pytest.raises(UserDirectoryUnavailable) as raised:
        await directory.ensure_exists(uuid.uuid4(), field="body.assignee_id")
    assert raised.value.status_code == 503


async def test_redis_down_only_costs_the_cache(auth_svc: Any, closed_port_url: str) -> None:
    user_id = uuid.uuid4()
    auth_svc.known_users.add(str(user_id))
    broken_cache = Redis.from_url(closed_port_url.replace("http://", "redis://") + "/0")
    directory = _directory(auth_svc.url, cache=broken_cache)

    assert await directory.exists(user_id) is True
    assert await directory.exists(uuid.uuid4()) is False
    await broken_cache.aclose()

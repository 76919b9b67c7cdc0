"""The per-user submission quota: e-mails and webhooks share it, events do not count."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from notify_svc.api import quota
from notify_svc.core.config import get_settings
from notify_svc.db.session import database
from notify_svc.main import app
from notify_svc.models import Job
from taskhub_common.rate_limit import UserRateLimiter, redis_storage

pytestmark = pytest.mark.integration

EMAIL = {"to": "alice@example.com", "subject": "Hello", "body": "World"}
ENDPOINTS = ("/notify/email", "/notify/webhook")
# Webhooks are scheduled ahead: the tests need the jobs, not their deliveries.
LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat()


def _body(path: str, receiver: Any) -> dict[str, Any]:
    if path == "/notify/email":
        return EMAIL
    return {"url": receiver.url("/ok/quota"), "payload": {"n": 1}, "send_at": LATER}


async def _submit(
    client: httpx.AsyncClient, path: str, user: Any, receiver: Any, **headers: str
) -> httpx.Response:
    return await client.post(path, json=_body(path, receiver), headers=user.headers | headers)


async def _jobs_of(owner_id: uuid.UUID) -> int:
    async with database.sessionmaker() as session:
        query = select(func.count()).select_from(Job).where(Job.owner_id == owner_id)
        return int((await session.execute(query)).scalar_one())


@pytest.fixture
def use_limit() -> Iterator[Callable[[str], None]]:
    """Swap the app's submission limiter for one with another limit (same Redis)."""

    def install(limit: str) -> None:
        storage = redis_storage(get_settings().redis_url, key_prefix="notify:ratelimit")
        limiter = UserRateLimiter(storage, limit, policy=quota.POLICY, metric_label="notify_submit")
        app.dependency_overrides[quota.submission_limiter] = lambda: limiter

    yield install
    app.dependency_overrides.pop(quota.submission_limiter, None)


async def test_the_61st_submission_within_a_minute_is_refused_across_both_endpoints(
    client: httpx.AsyncClient, make_user: Callable[..., Any], receiver: Any
) -> None:
    alice, bob = make_user(), make_user()
    labels = {"limit": "notify_submit"}
    rejected_before = REGISTRY.get_sample_value("taskhub_rate_limit_rejections_total", labels)

    accepted = [await _submit(client, ENDPOINTS[i % 2], alice, receiver) for i in range(60)]
    refused = [await _submit(client, path, alice, receiver) for path in ENDPOINTS]
    other_user = await _submit(client, "/notify/email", bob, receiver)

    assert [r.status_code for r in accepted] == [202] * 60
    assert [r.headers["RateLimit"].split(";")[1] for r in accepted] == [
        f"r={remaining}" for remaining in range(59, -1, -1)
    ]
    assert {r.headers["RateLimit-Policy"] for r in accepted} == {'"notify";q=60;w=60'}
    for response in refused:
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert response.headers["RateLimit"].startswith('"notify";r=0;t=')
        assert response.headers["RateLimit-Policy"] == '"notify";q=60;w=60'
    assert other_user.status_code == 202
    assert other_user.headers["RateLimit"].startswith('"notify";r=59;')
    assert await _jobs_of(alice.id) == 60
    rejected = REGISTRY.get_sample_value("taskhub_rate_limit_rejections_total", labels)
    assert rejected == (rejected_before or 0.0) + 2


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_each_endpoint_counts_and_is_refused(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    receiver: Any,
    use_limit: Callable[[str], None],
    path: str,
) -> None:
    use_limit("2/minute")
    alice = make_user()
    statuses = [(await _submit(client, path, alice, receiver)).status_code for _ in range(3)]

    assert statuses == [202, 202, 429]
    assert await _jobs_of(alice.id) == 2


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_replays_and_invalid_bodies_count_but_anonymous_requests_do_not(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    receiver: Any,
    use_limit: Callable[[str], None],
    path: str,
) -> None:
    use_limit("3/minute")
    alice = make_user()
    anonymous = await client.post(path, json=_body(path, receiver))
    first = await _submit(client, path, alice, receiver, **{"Idempotency-Key": "k1"})
    replay = await _submit(client, path, alice, receiver, **{"Idempotency-Key": "k1"})
    invalid = await client.post(path, json={"nope": 1}, headers=alice.headers)
    over = await _submit(client, path, alice, receiver)

    assert anonymous.status_code == 401
    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay.headers["RateLimit"].startswith('"notify";r=1;')
    assert invalid.status_code == 422
    assert over.status_code == 429


@pytest.mark.usefixtures("celery_worker")
async def test_jobs_made_from_task_events_are_not_counted(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    receiver: Any,
    auth_stub: Any,
    internal_headers: dict[str, str],
    use_limit: Callable[[str], None],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    use_limit("1/minute")
    alice = make_user()
    auth_stub.add_user(alice.id)
    for _ in range(3):
        event_id = str(uuid.uuid4())
        event = {
            "event_id": event_id,
            "type": "task.done",
            "occurred_at": datetime.now(UTC).isoformat(),
            "task": {
                "id": str(uuid.uuid4()),
                "title": "Write the report",
                "owner_id": str(alice.id),
                "assignee_id": None,
                "webhook_url": receiver.url(f"/ok/events/{alice.id}"),
                "due_at": None,
                "status": "done",
            },
        }
        answer = await client.post(
            "/internal/events", json=event, headers=internal_headers | {"Idempotency-Key": event_id}
        )
        assert answer.status_code == 202

    own = await _submit(client, "/notify/email", alice, receiver)
    jobs = (await client.get("/notify/jobs", headers=alice.headers)).json()["items"]
    # Delivered before the test ends: nothing is left running into the next test.
    final = [await job_status(job["id"], alice.headers, {"ok", "failed"}) for job in jobs]

    assert await _jobs_of(alice.id) == 7  # 3 x (e-mail + webhook), then her own
    assert own.status_code == 202
    assert own.headers["RateLimit"].startswith('"notify";r=0;')
    assert [job["status"] for job in final] == ["ok"] * 7


async def test_openapi_declares_the_quota(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/notify/openapi.json")).json()
    for path in ENDPOINTS:
        operation = spec["paths"][path]["post"]
        assert "429" in operation["responses"]
        assert "RateLimit" in operation["responses"]["202"]["headers"]
        assert "NOTIFY_SUBMIT_RATE_LIMIT" in operation["description"]

"""The job endpoints: creation, idempotency, validation, visibility, cancel, dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from taskhub_common.auth import Role
from taskhub_common.text import NO_NUL_PATTERN

pytestmark = pytest.mark.integration

EMAIL = {"to": "alice@example.com", "subject": "Hello", "body": "World"}


def _later(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_email_job_is_accepted_and_readable(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice = make_user()
    response = await client.post(
        "/notify/email", json=EMAIL | {"send_at": _later()}, headers=alice.headers
    )
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "scheduled"
    job = (await client.get(f"/notify/jobs/{accepted['id']}", headers=alice.headers)).json()
    assert job["type"] == "email"
    assert job["kind"] == "manual"
    assert job["attempts"] == 0
    assert "payload" not in job  # the recipient address is not echoed


async def test_requests_without_a_token_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/notify/email", json=EMAIL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_same_key_same_body_returns_the_same_job(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice = make_user()
    headers = alice.headers | {"Idempotency-Key": "order-42"}
    body = EMAIL | {"send_at": _later()}
    first = await client.post("/notify/email", json=body, headers=headers)
    again = await client.post("/notify/email", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    listed = (await client.get("/notify/jobs", headers=alice.headers)).json()
    assert listed["total"] == 1


async def test_same_key_different_body_is_a_conflict(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice = make_user()
    headers = alice.headers | {"Idempotency-Key": "order-43"}
    await client.post("/notify/email", json=EMAIL | {"send_at": _later()}, headers=headers)
    other = await client.post(
        "/notify/email", json=EMAIL | {"subject": "Other", "send_at": _later()}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "CONFLICT"


async def test_idempotency_keys_are_per_user(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    body = EMAIL | {"send_at": _later()}
    first = await client.post(
        "/notify/email", json=body, headers=make_user().headers | {"Idempotency-Key": "k"}
    )
    second = await client.post(
        "/notify/email", json=body, headers=make_user().headers | {"Idempotency-Key": "k"}
    )
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"to": "not-an-address", "subject": "s", "body": "b"},
        {"to": "a@example.com", "subject": "", "body": "b"},
        {"to": "a@example.com", "subject": "s\u0000", "body": "b"},
        {"to": "a@example.com", "subject": "s", "body": "b", "role": "admin"},
        {"to": "a@example.com", "subject": "s", "body": "b", "send_at": "2030-01-01T00:00:00"},
        {"to": "a@example.com", "subject": "s", "body": "b", "send_at": "2999-01-01T00:00:00Z"},
        {"to": "a@example.com", "subject": 5, "body": "b"},
        # Found by fuzzing: pydantic read numbers as Unix timestamps; the schema says date-time.
        {"to": "a@example.com", "subject": "s", "body": "b", "send_at": 0},
        {"to": "a@example.com", "subject": "s", "body": "b", "send_at": "1700000000"},
    ],
    ids=[
        "address",
        "empty",
        "nul",
        "unknown-field",
        "naive-time",
        "too-far",
        "type",
        "timestamp-number",
        "timestamp-text",
    ],
)
async def test_invalid_email_bodies_are_422(
    client: httpx.AsyncClient, make_user: Callable[..., Any], body: dict[str, Any]
) -> None:
    response = await client.post("/notify/email", json=body, headers=make_user().headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_malformed_json_and_bad_keys_are_422(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    headers = make_user().headers
    broken = await client.post(
        "/notify/email", content=b'{"to": ', headers=headers | {"Content-Type": "application/json"}
    )
    spaced_key = await client.post(
        "/notify/email", json=EMAIL, headers=headers | {"Idempotency-Key": "has space"}
    )
    # Found by fuzzing: a body that is not UTF-8 was a 400 outside the contract.
    not_utf8 = await client.post(
        "/notify/email", content=b"\xff\xfe", headers=headers | {"Content-Type": "application/json"}
    )
    assert (broken.status_code, spaced_key.status_code, not_utf8.status_code) == (422, 422, 422)


async def test_openapi_declares_the_nul_rule(client: httpx.AsyncClient) -> None:
    # Found by fuzzing: NUL was refused but undocumented, so valid-looking bodies got a 422.
    spec = (await client.get("/notify/openapi.json")).json()
    email = spec["components"]["schemas"]["EmailJobCreate"]["properties"]
    assert email["subject"]["pattern"] == email["body"]["pattern"] == NO_NUL_PATTERN


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "nul \u0000 inside"},
        {"\u0000key": 1},
        {"deep": __import__("functools").reduce(lambda acc, _: {"x": acc}, range(40), {})},
        {"blob": "x" * 70_000},
        {"huge": 10**30},
    ],
    ids=["nul-value", "nul-key", "too-deep", "too-large", "huge-int"],
)
async def test_webhook_payloads_postgres_cannot_store_are_422(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    receiver: Any,
    payload: dict[str, Any],
) -> None:
    response = await client.post(
        "/notify/webhook",
        json={"url": receiver.url("/ok"), "payload": payload, "send_at": _later()},
        headers=make_user().headers,
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.1.2.3/",
        "http://2130706433/",
        "http://no-such-host.invalid/",
    ],
)
async def test_unsafe_webhook_targets_are_422(
    client: httpx.AsyncClient, make_user: Callable[..., Any], url: str
) -> None:
    response = await client.post(
        "/notify/webhook", json={"url": url, "payload": {}}, headers=make_user().headers
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["field"] == "body.url"


async def test_another_users_job_is_invisible(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice, mallory = make_user(), make_user()
    job_id = (
        await client.post(
            "/notify/email", json=EMAIL | {"send_at": _later()}, headers=alice.headers
        )
    ).json()["id"]
    read = await client.get(f"/notify/jobs/{job_id}", headers=mallory.headers)
    cancel = await client.delete(f"/notify/jobs/{job_id}", headers=mallory.headers)
    assert (read.status_code, cancel.status_code) == (404, 404)
    listed = (await client.get("/notify/jobs", headers=mallory.headers)).json()
    assert listed["total"] == 0
    still = (await client.get(f"/notify/jobs/{job_id}", headers=alice.headers)).json()
    assert still["status"] == "scheduled"


async def test_admin_reads_any_job(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice, admin = make_user(), make_user(Role.ADMIN)
    job_id = (
        await client.post(
            "/notify/email", json=EMAIL | {"send_at": _later()}, headers=alice.headers
        )
    ).json()["id"]
    assert (await client.get(f"/notify/jobs/{job_id}", headers=admin.headers)).status_code == 200


async def test_unknown_and_malformed_job_ids(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    headers = make_user().headers
    assert (await client.get(f"/notify/jobs/{uuid.uuid4()}", headers=headers)).status_code == 404
    assert (await client.get("/notify/jobs/not-a-uuid", headers=headers)).status_code == 422


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice = make_user()
    for _ in range(3):
        await client.post(
            "/notify/email", json=EMAIL | {"send_at": _later()}, headers=alice.headers
        )
    page = (await client.get("/notify/jobs?limit=2&page=2", headers=alice.headers)).json()
    assert (page["total"], len(page["items"]), page["page"], page["limit"]) == (3, 1, 2, 2)
    scheduled = await client.get("/notify/jobs?status=scheduled&kind=manual", headers=alice.headers)
    assert scheduled.json()["total"] == 3
    ok = await client.get("/notify/jobs?status=ok", headers=alice.headers)
    assert ok.json()["total"] == 0
    by_task = await client.get(f"/notify/jobs?task_id={uuid.uuid4()}", headers=alice.headers)
    assert by_task.json()["total"] == 0
    too_big = await client.get("/notify/jobs?limit=101", headers=alice.headers)
    bad_status = await client.get("/notify/jobs?status=sleeping", headers=alice.headers)
    assert (too_big.status_code, bad_status.status_code) == (422, 422)


async def test_cancel_scheduled_then_conflict(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    alice = make_user()
    job_id = (
        await client.post(
            "/notify/email", json=EMAIL | {"send_at": _later()}, headers=alice.headers
        )
    ).json()["id"]
    first = await client.delete(f"/notify/jobs/{job_id}", headers=alice.headers)
    second = await client.delete(f"/notify/jobs/{job_id}", headers=alice.headers)
    assert (first.status_code, second.status_code) == (204, 409)
    job = (await client.get(f"/notify/jobs/{job_id}", headers=alice.headers)).json()
    assert job["status"] == "canceled"


async def test_dead_letters_are_for_admins(
    client: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    user = await client.get("/notify/failed", headers=make_user().headers)
    admin = await client.get("/notify/failed", headers=make_user(Role.ADMIN).headers)
    assert user.status_code == 403
    assert admin.status_code == 200
    assert admin.json() == {"items": [], "total": 0, "page": 1, "limit": 20}

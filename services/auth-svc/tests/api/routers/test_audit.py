"""GET /auth/audit: the login audit, newest first, for administrators."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


async def log_in_as(client: httpx.AsyncClient, who: Any, password: str, ip: str) -> None:
    await client.post(
        "/auth/login",
        json={"email": who.email, "password": password},
        headers={"X-Real-IP": ip, "User-Agent": "audit-test"},
    )


async def test_admins_read_attempts_newest_first(
    client: httpx.AsyncClient, admin: Any, user: Any
) -> None:
    await log_in_as(client, user, "wrong password", "198.51.100.1")
    await log_in_as(client, user, user.password, "198.51.100.2")

    response = await client.get(
        "/auth/audit", params={"user_id": str(user.id)}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 2
    assert (page["page"], page["limit"]) == (1, 20)
    newest, oldest = page["items"]
    assert set(newest) == {"user_id", "ip", "user_agent", "success", "created_at"}
    assert (newest["ip"], newest["success"]) == ("198.51.100.2", True)
    assert (oldest["ip"], oldest["success"]) == ("198.51.100.1", False)
    assert newest["user_id"] == str(user.id)
    assert newest["user_agent"] == "audit-test"


async def test_the_unfiltered_audit_includes_unknown_emails(
    client: httpx.AsyncClient, admin: Any, user: Any
) -> None:
    ghost = type("Ghost", (), {"email": "ghost-" + user.email})()
    await log_in_as(client, ghost, "whatever", "198.51.100.3")

    response = await client.get("/auth/audit", params={"limit": 1}, headers=admin.headers)

    items = response.json()["items"]
    assert len(items) == 1
    assert items[0]["user_id"] is None
    assert items[0]["ip"] == "198.51.100.3"


async def test_the_audit_is_forbidden_to_users(client: httpx.AsyncClient, user: Any) -> None:
    response = await client.get("/auth/audit", headers=user.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_the_audit_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/auth/audit")).status_code == 401


async def test_a_malformed_user_filter_is_422(client: httpx.AsyncClient, admin: Any) -> None:
    response = await client.get("/auth/audit", params={"user_id": "nope"}, headers=admin.headers)
    assert response.status_code == 422

"""No passwords, tokens or e-mail addresses reach the logs, whatever the flow."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from taskhub_common.logging import JsonFormatter

pytestmark = pytest.mark.integration


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged during the test, formatted as the service writes it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter("auth-svc"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


async def test_auth_flows_log_no_secrets_or_addresses(
    client: httpx.AsyncClient, email: str, log_output: io.StringIO
) -> None:
    password = "Pa55word-never-logged"
    registered = await client.post(
        "/auth/register", json={"email": email, "password": password, "name": "Quiet"}
    )
    await client.post("/auth/login", json={"email": email, "password": "wrong-guess"})
    await client.post("/auth/login", json={"email": "ghost-" + email, "password": password})
    pair = (await client.post("/auth/login", json={"email": email, "password": password})).json()
    await client.post("/auth/refresh", json={"refresh": pair["refresh"]})
    await client.post("/auth/refresh", json={"refresh": pair["refresh"]})  # reuse

    logged = log_output.getvalue()
    assert registered.json()["id"] in logged  # users are named by id ...
    assert "refresh token reuse" in logged
    for secret in (email, password, "wrong-guess", pair["access"], pair["refresh"]):
        assert secret not in logged  # ... never by address, password or token
    assert email.split("@")[0] not in logged

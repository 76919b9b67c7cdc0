"""Steps of features/security/webhooks.feature: webhook targets TaskHub refuses (API7, API10)."""

from __future__ import annotations

import httpx
from pytest_bdd import parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"


# --- webhooks (API7, API10) -------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} asks for a webhook to (?P<url>\S+)$"), target_fixture="reply")
def webhook_to(cast: Cast, api: TaskHubClient, who: str, url: str) -> httpx.Response:
    token = cast[who].require_access()
    return cast.answered(api.notify_webhook(token, url=url, payload={"probe": "ssrf"}))


@then(parsers.re(r"^no notification was queued for (?:her|him|them)$"))
def nothing_queued(cast: Cast, api: TaskHubClient) -> None:
    actor = cast["they"]
    response = api.list_jobs(actor.require_access(), limit=100)
    expect_status(response, 200)
    assert json_body(response)["total"] == 0, f"a job was queued: {describe(response)}"

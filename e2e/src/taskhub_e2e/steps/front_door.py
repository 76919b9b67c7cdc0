"""Steps of features/security/front_door.feature: headers, CORS, page sizes, internal paths."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from pytest_bdd import parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import describe, expect_outcome, expect_status
from taskhub_e2e.target import Target

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
POSSESSIVE = r"(?:her|his|their)"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


# --- the front door (API4, API8, API9) --------------------------------------------------------


def _answer(api: TaskHubClient, target: Target, answer: str) -> httpx.Response:
    too_large = b'{"name": "' + b"x" * (target.max_body_bytes + 1024) + b'"}'
    requests: dict[str, Any] = {
        "the gateway's health": lambda: api.health(),
        "a service's health": lambda: api.health(Service.TASKS),
        "the API description": lambda: api.openapi(Service.NOTIFY),
        "an unknown address": lambda: api.request("GET", f"/nowhere-{secrets.token_hex(3)}"),
        "a wrong method": lambda: api.request("DELETE", "/healthz"),
        "a request without a token": lambda: api.request("GET", "/tasks"),
        "an invalid request": lambda: api.request("POST", "/auth/register", json={}),
        "a body too large": lambda: api.request(
            "POST",
            "/auth/register",
            content=too_large,
            headers={"Content-Type": "application/json"},
        ),
    }
    assert answer in requests, f"unknown answer {answer!r}; known: {sorted(requests)}"
    response: httpx.Response = requests[answer]()
    return response


@when(parsers.re(r"^a visitor receives (?P<answer>.+)$"), target_fixture="reply")
def receive_answer(cast: Cast, api: TaskHubClient, target: Target, answer: str) -> httpx.Response:
    return cast.answered(_answer(api, target, answer))


@then("the answer carries the security headers")
def security_headers(reply: httpx.Response) -> None:
    headers = reply.headers
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, f"{name}: {headers.get(name)!r}; {describe(reply)}"
    assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), describe(reply)
    assert headers.get("cache-control") == "no-store", describe(reply)
    assert headers.get("x-request-id"), describe(reply)
    server = headers.get("server", "")
    assert not any(char.isdigit() for char in server), f"the server tells its version: {server}"
    assert "x-powered-by" not in headers, describe(reply)


CORS_PATHS = {Service.AUTH: "/auth/me", Service.TASKS: "/tasks", Service.NOTIFY: "/notify/jobs"}


@when(
    parsers.re(
        r"^a page on (?P<origin>\S+) asks the (?P<service>auth|tasks|notify) service "
        r"whether it may call it$"
    ),
    target_fixture="reply",
)
def cors_preflight(cast: Cast, api: TaskHubClient, origin: str, service: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    path = CORS_PATHS[Service.named(service)]
    return cast.answered(api.request("OPTIONS", path, headers=headers))


@then("that origin alone is allowed")
def origin_allowed(reply: httpx.Response) -> None:
    expect_status(reply, 200)
    allowed = reply.headers.get("access-control-allow-origin")
    assert allowed == reply.request.headers["origin"], f"allowed {allowed!r}; {describe(reply)}"
    assert reply.headers.get("access-control-allow-credentials") != "true", describe(reply)


@then("no origin is allowed")
def origin_refused(reply: httpx.Response) -> None:
    assert "access-control-allow-origin" not in reply.headers, describe(reply)
    expect_outcome(reply, "told it is forbidden")


@when(
    parsers.re(
        rf"^{WHO} asks for {POSSESSIVE} (?P<things>tasks|notifications) "
        r"(?P<size>-?\d+) at a time$"
    ),
    target_fixture="reply",
)
def page_size(cast: Cast, api: TaskHubClient, who: str, things: str, size: str) -> httpx.Response:
    token = cast[who].require_access()
    if things == "tasks":
        return cast.answered(api.list_tasks(token, limit=size))
    return cast.answered(api.list_jobs(token, limit=size))


@when(
    parsers.re(rf"^{WHO} asks for page (?P<page>\d+) of {POSSESSIVE} tasks$"),
    target_fixture="reply",
)
def far_page(cast: Cast, api: TaskHubClient, who: str, page: str) -> httpx.Response:
    return cast.answered(api.list_tasks(cast[who].require_access(), page=page))


@when(
    parsers.re(r"^a visitor tries to reach an internal endpoint spelled (?P<spelling>\S+)$"),
    target_fixture="reply",
)
def internal_spelling(cast: Cast, api: TaskHubClient, spelling: str) -> httpx.Response:
    # With a guessed service token: the gateway must not route the path at all.
    return cast.answered(api.request("GET", spelling, headers={"X-Internal-Token": "guess"}))

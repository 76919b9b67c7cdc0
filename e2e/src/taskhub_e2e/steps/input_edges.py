"""Steps of features/security/input_edges.feature: edge values in one field of a request.

A request is named as people say it ("a new task", "the task list"); the step fills a valid
request and puts the edge value in the one field, so the answer can only be about it. Bodies
are sent as ASCII JSON: a lone surrogate travels as the six characters `\\ud800`, as a hostile
client sends it.
"""

from __future__ import annotations

import copy
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

import httpx
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
# Values a feature file cannot spell: named here.
NAMED_VALUES: dict[str, Any] = {
    "a lone surrogate": "edge \ud800 text",
    "a NUL character": "edge \x00 text",
    "2^31": str(2**31),
    "2^63": str(2**63),
    "2^64": str(2**64),
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    # The valid request around the edge value: a body, or the query of a GET.
    base: dict[str, Any]
    signed_in: bool = True


REQUESTS = {
    "a registration": Request("POST", "/auth/register", {"password": "E2e-long-enough-9z"}, False),
    "a sign-in": Request("POST", "/auth/login", {"password": "E2e-long-enough-9z"}, False),
    "a new task": Request("POST", "/tasks", {"title": "Edge"}),
    "a task change": Request("PATCH", "/tasks/{task_id}", {}),
    "the task list": Request("GET", "/tasks", {}),
    "the notification list": Request("GET", "/notify/jobs", {}),
    "an e-mail notification": Request(
        "POST", "/notify/email", {"to": "edge@example.com", "subject": "s", "body": "b"}
    ),
    "a webhook notification": Request(
        "POST", "/notify/webhook", {"url": "https://example.com/hook", "payload": {}}
    ),
}


def _placed(field: str, value: Any) -> Any:
    """`value` as the field holds it: inside a list for tags, deep inside a JSON payload."""
    if field == "tags":
        return [value]
    if field == "payload":
        return {"note": {"lines": ["fine", value]}}
    return value


def _body(actor: Actor, request: Request, field: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(request.base)
    if request.path.startswith("/auth/"):
        body.setdefault("email", actor.person.email)
        if request.path == "/auth/register":
            body.setdefault("name", actor.person.name)
    body[field] = _placed(field, value)
    return body


def send_edge(
    api: TaskHubClient, actor: Actor, request: Request, field: str, value: Any
) -> httpx.Response:
    token = actor.require_access() if request.signed_in else None
    path = request.path
    if "{task_id}" in path:
        created = api.create_task(actor.require_access(), title="Edge target")
        expect_status(created, 201)
        path = path.format(task_id=json_body(created)["id"])
    if request.method == "GET":
        params = {**request.base, field: value}
        return api.request(request.method, path, token=token, params=params)
    content = json.dumps(_body(actor, request, field, value), ensure_ascii=True).encode()
    headers = {"Content-Type": "application/json"}
    return api.request(request.method, path, token=token, content=content, headers=headers)


@when(
    parsers.re(rf"^{WHO} sends (?P<value>.+?) as the (?P<field>[a-z_]+) of (?P<request>.+)$"),
    target_fixture="reply",
)
def sends_edge_value(
    cast: Cast, api: TaskHubClient, who: str, value: str, field: str, request: str
) -> httpx.Response:
    assert request in REQUESTS, f"no request called {request!r}; known: {sorted(REQUESTS)}"
    sent = NAMED_VALUES.get(value, value)
    return cast.answered(send_edge(api, cast[who], REQUESTS[request], field, sent))


@then(parsers.re(r'^the answer names the (?P<field>[a-z_]+) field, saying "(?P<words>[^"]+)"$'))
def answer_names_the_field(reply: httpx.Response, field: str, words: str) -> None:
    details = json_body(reply)["error"].get("details", [])
    named = [
        detail["message"]
        for detail in details
        # "body.tags.0" or "query.due_before": the part after the location.
        if detail["field"].split(".")[1:2] == [field]
    ]
    assert named, f"no message for {field}; {describe(reply)}"
    assert any(words in message for message in named), f"{named}; {describe(reply)}"


@then(parsers.re(r"^the task is due at (?P<rendered>\S+)$"))
def task_is_due_at(reply: httpx.Response, rendered: str) -> None:
    expect_status(reply, 200, 201)
    assert json_body(reply)["due_at"] == rendered, describe(reply)


# --- one address, two Unicode spellings ---------------------------------------------------


def _accented(actor: Actor) -> str:
    """The actor's address with an accented letter in front, in composed form (NFC)."""
    return unicodedata.normalize("NFC", f"ren\u00e9e.{actor.person.email}")


@given(
    parsers.re(
        rf"^{WHO} has registered with an accented e-mail address in (?P<form>composed|decomposed)"
        r" form$"
    )
)
def registered_accented(cast: Cast, api: TaskHubClient, who: str, form: str) -> None:
    actor = cast[who]
    spelling = unicodedata.normalize("NFC" if form == "composed" else "NFD", _accented(actor))
    response = api.register(spelling, actor.person.password, actor.person.name)
    expect_status(response, 201)
    actor.user_id = json_body(response)["id"]
    assert json_body(response)["email"] == _accented(actor).lower(), describe(response)


@when(
    parsers.re(rf"^{WHO} signs in spelling it in (?P<form>composed|decomposed) form$"),
    target_fixture="reply",
)
def signs_in_spelled(cast: Cast, api: TaskHubClient, who: str, form: str) -> httpx.Response:
    actor = cast[who]
    spelling = unicodedata.normalize("NFC" if form == "composed" else "NFD", _accented(actor))
    response = api.login(spelling, actor.person.password)
    if response.status_code == 200:
        actor.take_tokens(json_body(response))
    return cast.answered(response)

"""Steps of features/security/access_control.feature: objects and functions only their
owners and administrators reach (OWASP API1, API3, API5).

What a scenario creates lives in the `holdings` fixture; the token and sign-in steps keep
what they tried there too.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body
from taskhub_e2e.steps.auth import ensure_signed_in, refresh
from taskhub_e2e.tokens import split

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
OWNER = r"(?P<owner>[A-Z][a-z]+)"
POSSESSIVE = r"(?:her|his|their)"


@dataclass
class Holdings:
    """What the people of one scenario own (a task each, by name) and what they tried."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The last token a person presented, for the steps that try it elsewhere too.
    presented: str = ""
    timings: dict[str, list[float]] = field(default_factory=dict)


@pytest.fixture
def holdings() -> Holdings:
    return Holdings()


def task_of(holdings: Holdings, owner: str) -> dict[str, Any]:
    assert owner in holdings.tasks, f"{owner} has no task in this scenario"
    return holdings.tasks[owner]


def create_task(api: TaskHubClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    response = api.create_task(
        actor.require_access(), title=f"{actor.name}'s task {secrets.token_hex(3)}", **fields
    )
    expect_status(response, 201)
    task: dict[str, Any] = json_body(response)
    return task


# --- tasks and notifications (API1, API3) -------------------------------------------------


@given(parsers.re(rf"^{WHO} has a task of {POSSESSIVE} own$"))
def has_task(cast: Cast, api: TaskHubClient, holdings: Holdings, who: str) -> None:
    actor = cast[who]
    ensure_signed_in(api, actor)
    holdings.tasks[actor.name] = create_task(api, actor)


@given(parsers.re(rf"^{WHO} has a task of {POSSESSIVE} own assigned to (?P<assignee>[A-Z][a-z]+)$"))
def has_assigned_task(
    cast: Cast, api: TaskHubClient, holdings: Holdings, who: str, assignee: str
) -> None:
    actor, other = cast[who], cast[assignee]
    ensure_signed_in(api, other)
    ensure_signed_in(api, actor)
    holdings.tasks[actor.name] = create_task(api, actor, assignee_id=other.user_id)
    cast.current = actor  # "she" is still the owner


@then(parsers.re(rf"^{OWNER}'s task is unchanged$"))
def task_unchanged(cast: Cast, api: TaskHubClient, holdings: Holdings, owner: str) -> None:
    before = task_of(holdings, owner)
    response = api.get_task(cast[owner].require_access(), before["id"])
    expect_status(response, 200)
    after = json_body(response)
    for name in ("title", "status", "owner_id", "assignee_id", "updated_at"):
        assert after[name] == before[name], f"{name} changed: {before[name]!r} -> {after[name]!r}"


@when(parsers.re(rf"^{WHO} reads {OWNER}'s task$"), target_fixture="reply")
def read_task(
    cast: Cast, api: TaskHubClient, holdings: Holdings, who: str, owner: str
) -> httpx.Response:
    task_id = task_of(holdings, owner)["id"]
    return cast.answered(api.get_task(cast[who].require_access(), task_id))


@then(parsers.re(rf"^the answer tells nothing about {OWNER} but her id$"))
def nothing_but_id(cast: Cast, reply: httpx.Response, owner: str) -> None:
    expect_status(reply, 200)
    actor = cast[owner]
    assert json_body(reply)["owner_id"] == actor.user_id, describe(reply)
    text = reply.text.lower()
    assert actor.person.email.lower() not in text, "the answer reveals the owner's e-mail"
    assert "password" not in text, "the answer mentions a password"


# Fields the server owns, as a client might try to set them.
SERVER_OWNED = {
    "id": lambda: {"id": str(uuid.uuid4())},
    "creation time": lambda: {"created_at": "2000-01-01T00:00:00Z"},
    "update time": lambda: {"updated_at": "2000-01-01T00:00:00Z"},
}


@when(
    parsers.re(rf"^{WHO} creates a task that sets its (?P<server_field>.+)$"),
    target_fixture="reply",
)
def create_with_server_field(
    cast: Cast, api: TaskHubClient, who: str, server_field: str
) -> httpx.Response:
    assert server_field in SERVER_OWNED, f"unknown field {server_field!r}; {sorted(SERVER_OWNED)}"
    fields = SERVER_OWNED[server_field]()
    return cast.answered(api.create_task(cast[who].require_access(), title="Mine", **fields))


@when(
    parsers.re(rf"^{WHO} tries to make (?P<other>[A-Z][a-z]+) the owner of {POSSESSIVE} task$"),
    target_fixture="reply",
)
def change_owner(
    cast: Cast, api: TaskHubClient, holdings: Holdings, who: str, other: str
) -> httpx.Response:
    actor, new_owner = cast[who], cast[other]
    task_id = task_of(holdings, actor.name)["id"]
    cast.current = actor
    return cast.answered(
        api.update_task(actor.require_access(), task_id, owner_id=new_owner.user_id)
    )


# --- administration (API5) -----------------------------------------------------------------


@when(
    parsers.re(
        rf"^{WHO} tries to make (?P<target>herself|himself|themselves|[A-Z][a-z]+) "
        r"an administrator$"
    ),
    target_fixture="reply",
)
def promote(cast: Cast, api: TaskHubClient, who: str, target: str) -> httpx.Response:
    actor = cast[who]
    promoted = actor if target in {"herself", "himself", "themselves"} else cast[target]
    assert promoted.user_id, f"{promoted.name} has no account"
    cast.current = actor
    return cast.answered(api.set_role(actor.require_access(), promoted.user_id, "admin"))


def role_after_refresh(api: TaskHubClient, actor: Actor) -> str:
    """The role in a freshly issued access token (a role change applies from the next one)."""
    expect_status(refresh(api, actor), 200)
    _header, claims, _signature = split(actor.require_access())
    return str(claims.get("role"))


@then(parsers.re(r"^(?P<who>[A-Z][a-z]+) is still an ordinary user$"))
def still_ordinary(cast: Cast, api: TaskHubClient, who: str) -> None:
    assert role_after_refresh(api, cast[who]) == "user", f"{who} became an administrator"


@then("neither of them became an administrator")
def nobody_promoted(cast: Cast, api: TaskHubClient) -> None:
    for name, actor in cast.actors.items():
        if actor.refresh:
            assert role_after_refresh(api, actor) == "user", f"{name} became an administrator"


@when(
    parsers.re(
        r"^the administrator makes (?P<other>[A-Z][a-z]+) an administrator "
        r"and changes his e-mail address too$"
    ),
    target_fixture="reply",
)
def role_change_with_extra(cast: Cast, api: TaskHubClient, other: str) -> httpx.Response:
    admin, target = cast.actors["the administrator"], cast[other]
    body = {"role": "admin", "email": f"taken-over-{secrets.token_hex(3)}@example.com"}
    path = f"/auth/users/{target.user_id}"
    return cast.answered(api.request("PATCH", path, token=admin.require_access(), json=body))

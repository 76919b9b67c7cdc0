"""Steps of features/security/privilege_changes.feature: a role change outruns old tokens.

An access token keeps the role it was issued with until it expires; the services other
than auth-svc confirm an administrator's role with auth-svc and keep the answer a few
seconds. These steps change a role and poll until the old token has lost the privilege,
failing when that takes longer than the documented window.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body
from taskhub_e2e.steps.auth import ensure_account, ensure_signed_in

WHO = r"(?P<who>[A-Z][a-z]+)"
# The documented window (TASKS_/NOTIFY_ADMIN_ROLE_CACHE_SECONDS, 5 s by default), plus
# time for the requests themselves.
ROLE_CHANGE_WINDOW_SECONDS = 5.0 + 2.0
POLL_SECONDS = 0.25


@dataclass
class RoleChange:
    """Bob's task (with a tag of its own, to find it in any list), the token kept, the clock."""

    task: dict[str, Any] = field(default_factory=dict)
    tag: str = ""
    old_token: str = ""
    changed_at: float = 0.0


@pytest.fixture
def role_change() -> RoleChange:
    return RoleChange()


def _admin_token(cast: Cast) -> str:
    return cast.actors["the administrator"].require_access()


def _set_role(cast: Cast, api: TaskHubClient, who: str, role: str) -> None:
    actor = cast[who]
    assert actor.user_id, f"{who} has no account"
    expect_status(cast.answered(api.set_role(_admin_token(cast), actor.user_id, role)), 200)


def _listed_ids(api: TaskHubClient, token: str, tag: str) -> set[str]:
    response = api.list_tasks(token, tag=tag, limit=100)
    expect_status(response, 200)
    return {task["id"] for task in json_body(response)["items"]}


def _within_window(
    role_change: RoleChange, check: Callable[[], httpx.Response | None], what: str
) -> None:
    """Poll `check` (None: done) until the window after the role change has passed."""
    deadline = role_change.changed_at + ROLE_CHANGE_WINDOW_SECONDS
    while True:
        still = check()
        if still is None:
            return
        assert time.monotonic() < deadline, (
            f"{what} {ROLE_CHANGE_WINDOW_SECONDS:.0f} s after the role change; {describe(still)}"
        )
        time.sleep(POLL_SECONDS)


@given(parsers.re(rf"^{WHO} has a task nobody else may see$"))
def private_task(cast: Cast, api: TaskHubClient, role_change: RoleChange, who: str) -> None:
    owner = cast[who]
    ensure_signed_in(api, owner)
    role_change.tag = f"private-{secrets.token_hex(4)}"
    response = api.create_task(
        owner.require_access(), title=f"{owner.name}'s own", tags=[role_change.tag]
    )
    expect_status(response, 201)
    role_change.task = json_body(response)


@given(parsers.re(rf"^the administrator has made {WHO} an administrator$"))
def promoted(cast: Cast, api: TaskHubClient, who: str) -> None:
    ensure_account(api, cast[who])
    _set_role(cast, api, who, "admin")


@given(
    parsers.re(
        rf"^{WHO}'s token, as an administrator's, finds (?P<owner>[A-Z][a-z]+)'s task "
        r"and the dead letters$"
    )
)
def sees_as_admin(cast: Cast, api: TaskHubClient, role_change: RoleChange, who: str) -> None:
    token = cast[who].require_access()
    role_change.old_token = token
    expect_status(api.get_task(token, role_change.task["id"]), 200)
    assert role_change.task["id"] in _listed_ids(api, token, role_change.tag)
    expect_status(api.failed_notifications(token), 200)


@when(parsers.re(rf"^the administrator makes {WHO} an ordinary user again$"))
def demoted(cast: Cast, api: TaskHubClient, role_change: RoleChange, who: str) -> None:
    _set_role(cast, api, who, "user")
    role_change.changed_at = time.monotonic()


@then(
    parsers.re(rf"^within seconds {WHO}'s old token no longer finds (?P<owner>[A-Z][a-z]+)'s task$")
)
def no_longer_finds(api: TaskHubClient, role_change: RoleChange) -> None:
    token, task_id = role_change.old_token, role_change.task["id"]

    def single_read() -> httpx.Response | None:
        response = api.get_task(token, task_id)
        return None if response.status_code == 404 else response

    def listed() -> httpx.Response | None:
        if task_id not in _listed_ids(api, token, role_change.tag):
            return None
        return api.list_tasks(token, tag=role_change.tag)

    _within_window(role_change, single_read, "the old token still reads the task")
    _within_window(role_change, listed, "the old token still lists the task")


@then(parsers.re(rf"^{WHO}'s old token is refused the dead letters$"))
def refused_dead_letters(api: TaskHubClient, role_change: RoleChange) -> None:
    def dead_letters() -> httpx.Response | None:
        response = api.failed_notifications(role_change.old_token)
        if response.status_code == 403 and json_body(response)["error"]["code"] == "FORBIDDEN":
            return None
        return response

    _within_window(role_change, dead_letters, "the old token still reads the dead letters")


@then(parsers.re(rf"^{WHO}'s old token still lists (?:her|his|their) own tasks$"))
def still_a_user(cast: Cast, api: TaskHubClient, role_change: RoleChange, who: str) -> None:
    response = api.list_tasks(role_change.old_token, limit=100)
    expect_status(response, 200)
    user_id = cast[who].user_id
    others = [
        task["id"]
        for task in json_body(response)["items"]
        if user_id not in (task["owner_id"], task.get("assignee_id"))
    ]
    assert others == [], f"the old token still lists other people's tasks: {others}"


@then("it describes no internal route")
def no_internal_route(reply: httpx.Response) -> None:
    expect_status(reply, 200)
    paths = json_body(reply)["paths"]
    assert paths, f"no operations at all; {describe(reply)}"
    internal = [path for path in paths if "/internal" in path]
    assert internal == [], f"the published description lists internal routes: {internal}"

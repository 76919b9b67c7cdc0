"""Steps of accounts and sign-in: register, sign in, refresh, tokens, admin and audit."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_client.generated.api.auth import auth_login, auth_me, auth_register
from taskhub_client.generated.models.login_request import LoginRequest
from taskhub_client.generated.models.register_request import RegisterRequest
from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body
from taskhub_e2e.python_client import through_client
from taskhub_e2e.target import Credentials, Target
from taskhub_e2e.tokens import FORGERIES, split

# A person by name ("Alice") or by pronoun ("she").
WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
# Whose: "Alice's", "her".
WHOSE = r"(?P<who>[A-Z][a-z]+'s|her|his|their)"
# How far the audit and user lists are paged through to find one row.
MAX_PAGES = 20
PAGE_SIZE = 100
# A spent refresh token presented again within auth-svc's reuse grace (for two clients
# refreshing at once) buys a pair; replays wait it out to be reuse. The grace is the
# deployment's: natively from the stack's settings, else TASKHUB_REFRESH_REUSE_GRACE_SECONDS
# (auth-svc's default otherwise).
DEFAULT_REUSE_GRACE_SECONDS = 10.0


@pytest.fixture
def past_the_reuse_grace(target: Target) -> float:
    """Seconds a replay waits so that it counts as reuse, not as a double submission."""
    if target.stack is not None:
        grace = target.stack.env().get("AUTH_REFRESH_REUSE_GRACE_SECONDS")
    else:
        grace = os.environ.get("TASKHUB_REFRESH_REUSE_GRACE_SECONDS")
    return float(grace or DEFAULT_REUSE_GRACE_SECONDS) + 1.0


# --- helpers (plain functions: steps call them, they are not steps) --------------------


def register(api: TaskHubClient, actor: Actor, **extra: Any) -> httpx.Response:
    person = actor.person
    fields = {"email": person.email, "password": person.password, "name": person.name}
    if extra:  # fields the API does not have, sent on purpose: raw HTTP
        response = api.register(person.email, person.password, person.name, **extra)
    else:
        body = (RegisterRequest, fields)
        response = through_client(api, None, auth_register.sync_detailed, body=body)
    if response.status_code == 201:
        actor.user_id = json_body(response)["id"]
    return response


def sign_in(api: TaskHubClient, actor: Actor, password: str | None = None) -> httpx.Response:
    fields = {"email": actor.person.email, "password": password or actor.person.password}
    response = through_client(api, None, auth_login.sync_detailed, body=(LoginRequest, fields))
    if response.status_code == 200:
        actor.take_tokens(json_body(response))
    return response


def refresh(api: TaskHubClient, actor: Actor) -> httpx.Response:
    response = api.refresh(actor.require_refresh())
    if response.status_code == 200:
        actor.take_tokens(json_body(response))
    return response


def ensure_account(api: TaskHubClient, actor: Actor) -> None:
    if actor.user_id is None:
        expect_status(register(api, actor), 201)


def ensure_signed_in(api: TaskHubClient, actor: Actor) -> None:
    ensure_account(api, actor)
    if actor.access is None:
        expect_status(sign_in(api, actor), 200)


def all_pages(api: TaskHubClient, fetch: Any, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged admin list (`{items, total, page, limit}`), up to MAX_PAGES."""
    items: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        response = fetch(page=page, limit=PAGE_SIZE, **params)
        expect_status(response, 200)
        body = json_body(response)
        items.extend(body["items"])
        if len(items) >= body.get("total", 0) or not body["items"]:
            break
    return items


def expect_token_pair(response: httpx.Response) -> dict[str, Any]:
    expect_status(response, 200)
    body: dict[str, Any] = json_body(response)
    assert body.get("token_type", "").lower() == "bearer", describe(response)
    expires_in = body.get("expires_in")
    assert isinstance(expires_in, int), describe(response)
    assert expires_in > 0, describe(response)
    for name in ("access", "refresh"):
        token = body.get(name)
        assert isinstance(token, str), f"no {name} token; {describe(response)}"
        assert token.count(".") == 2, f"{name} is not a JWT; {describe(response)}"
    assert body["access"] != body["refresh"], "access and refresh tokens are the same"
    return body


# --- registering -----------------------------------------------------------------------


@given(parsers.re(rf"^{WHO} has an account$"))
def has_account(cast: Cast, api: TaskHubClient, who: str) -> None:
    ensure_account(api, cast[who])


@given(parsers.re(rf"^{WHO} has signed in$"))
def has_signed_in(cast: Cast, api: TaskHubClient, who: str) -> None:
    ensure_signed_in(api, cast[who])


@when(parsers.re(rf"^{WHO} registers$"), target_fixture="reply")
def registers(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(register(api, cast[who]))


@when(parsers.re(rf"^{WHO} registers asking to be an admin$"), target_fixture="reply")
def registers_as_admin(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(register(api, cast[who], role="admin"))


@when(
    parsers.re(r"^someone registers with (?P<owner>[A-Z][a-z]+)'s e-mail address$"),
    target_fixture="reply",
)
def registers_taken_email(cast: Cast, api: TaskHubClient, owner: str) -> httpx.Response:
    email = cast[owner].person.email
    stranger = cast.identities.person("Someone")
    return cast.answered(api.register(email, stranger.password, stranger.name))


@then(parsers.re(rf"^{WHOSE} account is created as an ordinary user$"))
def created_as_user(cast: Cast, reply: httpx.Response, who: str) -> None:
    actor = cast[who]
    expect_status(reply, 201)
    body = json_body(reply)
    assert body["email"] == actor.person.email, body
    assert body["name"] == actor.person.name, body
    assert body["role"] == "user", f"a new account must be an ordinary user: {body}"
    assert not {"password", "password_hash"} & body.keys(), f"the answer leaks secrets: {body}"
    assert reply.headers.get("location", body["id"]).endswith(body["id"]), describe(reply)


@then(parsers.re(rf"^{WHOSE} e-mail address is still free$"))
def email_still_free(cast: Cast, api: TaskHubClient, who: str) -> None:
    # Registering again proves no account was made, without spending a failed login
    # (failed logins are throttled per client address, and the suite has one address).
    response = register(api, cast[who])
    assert response.status_code == 201, f"the e-mail is taken after all; {describe(response)}"
    assert json_body(response)["role"] == "user", describe(response)


# --- signing in ------------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} signs in$"), target_fixture="reply")
def signs_in(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(sign_in(api, cast[who]))


@given(parsers.re(rf"^{WHO} has failed to sign in once$"))
def failed_sign_in(cast: Cast, api: TaskHubClient, who: str) -> None:
    expect_status(sign_in(api, cast[who], password="Wrong-password-0"), 401)


@when(parsers.re(rf"^{WHO} signs in with a wrong password$"), target_fixture="reply")
def signs_in_wrong_password(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(sign_in(api, cast[who], password="Wrong-password-0"))


@when("a visitor signs in with an e-mail address nobody registered", target_fixture="reply")
def signs_in_unknown(cast: Cast, api: TaskHubClient) -> httpx.Response:
    nobody = cast.identities.person("Nobody")
    return cast.answered(api.login(nobody.email, nobody.password))


@then(parsers.re(rf"^{WHO} receives a (?:new )?pair of tokens$"))
def receives_tokens(cast: Cast, reply: httpx.Response, who: str) -> None:
    body = expect_token_pair(reply)
    actor = cast[who]
    assert body["refresh"] not in actor.spent_refresh, "a spent refresh token came back"
    _header, claims, _signature = split(body["access"])
    if actor.user_id:
        assert claims.get("sub") == actor.user_id, f"the token is not {actor.name}'s: {claims}"


@then(parsers.re(rf"^{WHO} can see who (?:she|he|they) (?:is|are)$"))
@then(parsers.re(rf"^{WHOSE} new access token works$"))
def me_works(cast: Cast, api: TaskHubClient, who: str) -> None:
    actor = cast[who]
    response = through_client(api, actor.require_access(), auth_me.sync_detailed)
    expect_status(response, 200)
    body = json_body(response)
    assert body["email"] == actor.person.email, body
    assert body["id"] == actor.user_id, body


@when("a visitor asks who they are without signing in", target_fixture="reply")
def me_anonymous(cast: Cast, api: TaskHubClient) -> httpx.Response:
    return cast.answered(api.me(None))


@when(parsers.re(rf"^{WHO} signs out$"), target_fixture="reply")
def signs_out(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    response = api.logout(cast[who].require_refresh())
    expect_status(response, 204)
    return cast.answered(response)


# --- refreshing ------------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} refreshes (?:her|his|their) tokens$"), target_fixture="reply")
def refreshes(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(refresh(api, cast[who]))


@given(parsers.re(rf"^{WHO} has refreshed (?:her|his|their) tokens$"))
def has_refreshed(cast: Cast, api: TaskHubClient, who: str) -> None:
    expect_token_pair(refresh(api, cast[who]))


@when(
    parsers.re(rf"^{WHO} refreshes with the refresh token (?:she|he|they) already used$"),
    target_fixture="reply",
)
def refreshes_with_spent(
    cast: Cast, api: TaskHubClient, past_the_reuse_grace: float, who: str
) -> httpx.Response:
    actor = cast[who]
    assert actor.spent_refresh, f"{actor.name} has not refreshed yet"
    time.sleep(past_the_reuse_grace)
    return cast.answered(api.refresh(actor.spent_refresh[-1]))


@when(
    parsers.re(rf"^someone replays {WHOSE} first refresh token$"),
    target_fixture="reply",
)
def replays_first_refresh(
    cast: Cast, api: TaskHubClient, past_the_reuse_grace: float, who: str
) -> httpx.Response:
    actor = cast[who]
    assert actor.spent_refresh, f"{actor.name} has not refreshed yet"
    time.sleep(past_the_reuse_grace)
    return cast.answered(api.refresh(actor.spent_refresh[0]))


@then(parsers.re(rf"^{WHOSE} (?:latest )?refresh token no longer works$"))
def refresh_revoked(cast: Cast, api: TaskHubClient, who: str) -> None:
    response = api.refresh(cast[who].require_refresh())
    assert response.status_code == 401, f"the refresh token still works; {describe(response)}"


@when(
    parsers.re(rf"^{WHO} tries to refresh with (?:her|his|their) access token$"),
    target_fixture="reply",
)
def refresh_with_access(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(api.refresh(cast[who].require_access()))


@when(
    parsers.re(
        rf"^{WHO} asks who (?:she|he|they) (?:is|are) with (?:her|his|their) refresh token$"
    ),
    target_fixture="reply",
)
def me_with_refresh(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(api.me(cast[who].require_refresh()))


@when(
    parsers.re(
        rf"^{WHO} asks who (?:she|he|they) (?:is|are) with a forged token: (?P<forgery>.+)$"
    ),
    target_fixture="reply",
)
def me_with_forged(cast: Cast, api: TaskHubClient, who: str, forgery: str) -> httpx.Response:
    assert forgery in FORGERIES, f"no forgery called {forgery!r}; known: {sorted(FORGERIES)}"
    return cast.answered(api.me(FORGERIES[forgery](cast[who].require_access())))


# --- administration --------------------------------------------------------------------


@given("the administrator has signed in")
def administrator_signed_in(cast: Cast, api: TaskHubClient, admin_credentials: Credentials) -> None:
    admin = cast.administrator(admin_credentials)
    expect_status(sign_in(api, admin), 200)


@when(parsers.re(rf"^{WHO} tries to list the users$"), target_fixture="reply")
@when(parsers.re(r"^(?P<who>the administrator) lists the users$"), target_fixture="reply")
def lists_users(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    actor = cast.actors["the administrator"] if who == "the administrator" else cast[who]
    return cast.answered(api.users(actor.require_access()))


@when(parsers.re(rf"^{WHO} tries to read the sign-in audit$"), target_fixture="reply")
@when(parsers.re(r"^(?P<who>the administrator) reads the sign-in audit$"), target_fixture="reply")
def reads_audit(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    actor = cast.actors["the administrator"] if who == "the administrator" else cast[who]
    return cast.answered(api.audit(actor.require_access()))


@then(parsers.re(r"^(?P<who>[A-Z][a-z]+) is among them$"))
def among_users(cast: Cast, api: TaskHubClient, reply: httpx.Response, who: str) -> None:
    expect_status(reply, 200)
    admin = cast.actors["the administrator"]
    users = all_pages(api, lambda **page: api.users(admin.require_access(), **page))
    assert cast[who].user_id in {user["id"] for user in users}, f"{who} is not in the list"


@then(parsers.re(r"^the audit shows (?P<kind>a|a failed) sign-in (?:for|of) (?P<who>[A-Z][a-z]+)$"))
def audit_shows(cast: Cast, api: TaskHubClient, reply: httpx.Response, kind: str, who: str) -> None:
    expect_status(reply, 200)
    admin = cast.actors["the administrator"]
    actor = cast[who]
    rows = all_pages(
        api, lambda **page: api.audit(admin.require_access(), **page), user_id=actor.user_id
    )
    mine = [row for row in rows if row.get("user_id") == actor.user_id]
    wanted_success = kind == "a"
    matching = [row for row in mine if row.get("success") is wanted_success]
    assert matching, f"no {'successful' if wanted_success else 'failed'} sign-in of {who}: {mine}"
    row = matching[0]
    assert row.get("ip"), f"the audit row lacks the ip: {row}"
    assert row.get("created_at"), f"the audit row lacks the time: {row}"
    assert str(row.get("user_agent", "")).startswith("taskhub-e2e"), f"wrong user agent: {row}"

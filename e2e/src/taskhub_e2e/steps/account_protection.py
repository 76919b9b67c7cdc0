"""Steps of account protection: privilege after a demotion, no lock-out by strangers,
concurrent refreshes, and one account per address whatever its Unicode form.

Per-address behaviour needs another client address: through the gateway every local
client is 127.0.0.1, so these steps bind a client to another loopback address (the
gateway then sees and forwards that one).
"""

from __future__ import annotations

import dataclasses
import random
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_outcome, expect_status, json_body
from taskhub_e2e.steps.auth import all_pages, expect_token_pair, refresh, register, sign_in
from taskhub_e2e.tokens import split

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
OWNER = r"(?P<owner>[A-Z][a-z]+)"
POSSESSIVE = r"(?:her|his|their)"
# More wrong passwords than any per-(account, address) limit worth having.
MAX_GUESSES = 30
WRONG_PASSWORD = "not-the-password-0"
# 127.0.0.0/8 is loopback: each of these reaches the gateway as a distinct client.
LOOPBACK_HOSTS = range(2, 255)


def client_from(api: TaskHubClient, address: str) -> httpx.Client:
    """A client that reaches the gateway from `address` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=api.base_url, transport=transport, timeout=30)


@dataclass
class Addresses:
    """The loopback addresses one scenario used, so each new one is another client."""

    used: list[str] = field(default_factory=list)

    def fresh(self) -> str:
        while True:
            address = f"127.0.{random.randint(1, 254)}.{random.choice(LOOPBACK_HOSTS)}"
            if address not in self.used:
                self.used.append(address)
                return address


@pytest.fixture
def addresses() -> Addresses:
    return Addresses()


# --- privilege follows the database ---------------------------------------------------------


@given(parsers.re(rf"^the administrator has made {OWNER} an administrator$"))
def made_admin(cast: Cast, api: TaskHubClient, owner: str) -> None:
    admin, target = cast.actors["the administrator"], cast[owner]
    assert target.user_id, f"{target.name} has no account"
    expect_status(api.set_role(admin.require_access(), target.user_id, "admin"), 200)


@given(parsers.re(rf"^the administrator has made {OWNER} an ordinary user again$"))
def made_user(cast: Cast, api: TaskHubClient, owner: str) -> None:
    admin, target = cast.actors["the administrator"], cast[owner]
    assert target.user_id, f"{target.name} has no account"
    expect_status(api.set_role(admin.require_access(), target.user_id, "user"), 200)


@given(parsers.re(rf"^{WHO} has signed in as an administrator$"))
def signed_in_as_admin(cast: Cast, api: TaskHubClient, who: str) -> None:
    actor = cast[who]
    expect_token_pair(sign_in(api, actor))
    _header, claims, _signature = split(actor.require_access())
    assert claims.get("role") == "admin", f"{actor.name}'s token is not an admin's: {claims}"


@then(parsers.re(rf"^the administrator sees {OWNER} as an ordinary user$"))
def seen_as_user(cast: Cast, api: TaskHubClient, owner: str) -> None:
    admin, target = cast.actors["the administrator"], cast[owner]
    users = all_pages(api, lambda **page: api.users(admin.require_access(), **page))
    roles = [user["role"] for user in users if user["id"] == target.user_id]
    assert roles == ["user"], f"{target.name}'s role is {roles}"


# --- no lock-out by strangers --------------------------------------------------------------


@when(
    parsers.re(rf"^someone keeps guessing {OWNER}'s password from another address$"),
    target_fixture="reply",
)
def keep_guessing_from_elsewhere(
    cast: Cast, api: TaskHubClient, addresses: Addresses, owner: str
) -> httpx.Response:
    actor = cast[owner]
    address = addresses.fresh()
    with client_from(api, address) as attacker:
        for attempt in range(1, MAX_GUESSES + 1):
            guess = attacker.post(
                "/auth/login",
                json={"email": actor.person.email, "password": f"{WRONG_PASSWORD}-{attempt}"},
            )
            if attempt == 1:
                expect_outcome(guess, "told the credentials are wrong")
            if guess.status_code != 401:
                return cast.answered(guess)
    raise AssertionError(f"{MAX_GUESSES} wrong passwords from {address} were never throttled")


@when(
    parsers.re(
        rf"^{WHO} signs in with {POSSESSIVE} right password from an address of {POSSESSIVE} own$"
    ),
    target_fixture="reply",
)
def sign_in_from_own_address(
    cast: Cast, api: TaskHubClient, addresses: Addresses, who: str
) -> httpx.Response:
    actor = cast[who]
    with client_from(api, addresses.fresh()) as own:
        response = own.post(
            "/auth/login", json={"email": actor.person.email, "password": actor.person.password}
        )
    if response.status_code == 200:
        actor.take_tokens(json_body(response))
    return cast.answered(response)


# --- concurrent refreshes ------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} refreshes {POSSESSIVE} tokens twice at once$"))
def refresh_twice_at_once(cast: Cast, api: TaskHubClient, who: str) -> None:
    actor = cast[who]
    token = actor.require_refresh()

    def one_refresh(_: int) -> httpx.Response:
        with httpx.Client(base_url=api.base_url, timeout=30) as http:
            return http.post("/auth/refresh", json={"refresh": token})

    with ThreadPoolExecutor(max_workers=2) as pool:
        for response in pool.map(one_refresh, range(2)):
            cast.answered(response)


@then(parsers.re(r"^both refreshes give (?:her|him|them) a new pair of tokens$"))
def both_refreshed(cast: Cast) -> None:
    first, second = cast.replies[-2:]
    pairs = [expect_token_pair(reply) for reply in (first, second)]
    assert pairs[0]["refresh"] != pairs[1]["refresh"], "both got the same refresh token"


@then("both new refresh tokens still work")
def both_still_work(cast: Cast, api: TaskHubClient) -> None:
    actor = cast.current
    assert actor is not None
    for reply in cast.replies[-2:]:
        pair: dict[str, Any] = json_body(reply)
        actor.refresh = str(pair["refresh"])
        renewed = refresh(api, actor)
        assert renewed.status_code == 200, f"a successor was revoked; {describe(renewed)}"


# --- one account per address -----------------------------------------------------------------


@given(parsers.re(rf"^{WHO} has an account under an accented address written decomposed$"))
def account_with_decomposed_address(cast: Cast, api: TaskHubClient, who: str) -> None:
    actor = cast[who]
    local, domain = actor.person.email.split("@", 1)
    composed = f"{local}.zoë-josé@{domain}"
    actor.person = dataclasses.replace(actor.person, email=unicodedata.normalize("NFD", composed))
    expect_status(register(api, actor), 201)


@when(
    parsers.re(rf"^{WHO} signs in with that address written composed and in capitals$"),
    target_fixture="reply",
)
def sign_in_composed(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    actor = cast[who]
    composed = unicodedata.normalize("NFC", actor.person.email).upper()
    response = api.login(composed, actor.person.password)
    if response.status_code == 200:
        actor.take_tokens(json_body(response))
    return cast.answered(response)

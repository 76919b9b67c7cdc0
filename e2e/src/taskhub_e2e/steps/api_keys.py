"""Steps of API keys: create, use, list and revoke them, and try wrong ones.

A key's published format is `thk_` + 32 base62 characters + 6 base62 characters of the
CRC32 of those 32; the suite builds its own near misses and guesses from it. The scenario's
keys live in a `KeyRing` (`key_ring`, a function-scoped fixture), by name.
"""

from __future__ import annotations

import secrets
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import ADMINISTRATOR, Actor, Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_error_envelope, expect_status, json_body
from taskhub_e2e.steps.auth import ensure_signed_in
from taskhub_e2e.target import Target
from taskhub_e2e.taskbook import TaskBook

NAME = r"[A-Z][a-z]+"
WHO = rf"(?P<who>{NAME}|she|he|they|the administrator)"
HER = r"(?:her|his|their)"
KEY = r"(?P<name>[a-z][a-z0-9-]*)"
PREFIX = "thk_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
KEY_LENGTH = len(PREFIX) + RANDOM_LENGTH + 6
POLL_SECONDS = 0.25
# Margin on a documented revocation delay for the requests themselves.
REVOCATION_SLACK_SECONDS = 2.0
# Wrong keys timed per kind; the fastest of each kind is compared (the least disturbed).
TIMING_SAMPLES = 25
# "Similar": the fastest near miss and the fastest guess within this factor, or this close.
TIMING_RATIO = 1.5
TIMING_SLACK_SECONDS = 0.005
LOG_FLUSH_SECONDS = 1.0


# --- the format ------------------------------------------------------------------------


def _base62(number: int, length: int) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def key_of(random_part: str) -> str:
    return f"{PREFIX}{random_part}{_base62(zlib.crc32(random_part.encode()), 6)}"


def guessed_key() -> str:
    return key_of("".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH)))


def near_miss(key: str, variant: int) -> str:
    """A well-formed key equal to `key` but for the last character of its random part."""
    random_part = key[len(PREFIX) : len(PREFIX) + RANDOM_LENGTH]
    others = [char for char in ALPHABET if char != random_part[-1]]
    return key_of(random_part[:-1] + others[variant % len(others)])


def wrong_checksum(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


# --- the scenario's keys ---------------------------------------------------------------


@dataclass
class IssuedKey:
    owner: Actor
    body: dict[str, Any]
    secret: str
    revoked_at: float | None = None

    @property
    def id(self) -> str:
        return str(self.body["id"])


@dataclass
class KeyRing:
    keys: dict[str, IssuedKey] = field(default_factory=dict)
    presented: list[str] = field(default_factory=list)
    timings: dict[str, list[float]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> IssuedKey:
        assert name in self.keys, f"no key called {name!r}; known: {sorted(self.keys)}"
        return self.keys[name]

    def of(self, owner: Actor) -> IssuedKey:
        owned = [key for key in self.keys.values() if key.owner is owner]
        assert owned, f"{owner.name} has no key"
        return owned[-1]


@pytest.fixture
def key_ring() -> KeyRing:
    return KeyRing()


def _actor(cast: Cast, who: str) -> Actor:
    if who == ADMINISTRATOR:
        return cast.actors[ADMINISTRATOR]
    return cast[who]


def _scopes(words: str) -> list[str]:
    return [scope.strip() for scope in words.split(",") if scope.strip()]


def _with_key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def create_key(api: TaskHubClient, actor: Actor, name: str, scopes: list[str]) -> httpx.Response:
    return api.request(
        "POST",
        "/auth/api-keys",
        token=actor.require_access(),
        json={"name": name, "scopes": scopes},
    )


def _keep(key_ring: KeyRing, actor: Actor, name: str, response: httpx.Response) -> None:
    if response.status_code == 201:
        body = json_body(response)
        key_ring.keys[name] = IssuedKey(actor, body, str(body["key"]))


def _user_id(api: TaskHubClient, actor: Actor) -> str:
    if actor.user_id is None:
        response = api.me(actor.require_access())
        expect_status(response, 200)
        actor.user_id = str(json_body(response)["id"])
    return actor.user_id


# --- creating and listing ---------------------------------------------------------------


@given(parsers.re(rf'^{WHO} has an API key "{KEY}" with the scopes (?P<scopes>.+)$'))
def has_key(
    cast: Cast, api: TaskHubClient, key_ring: KeyRing, who: str, name: str, scopes: str
) -> None:
    actor = _actor(cast, who)
    if who != ADMINISTRATOR:
        ensure_signed_in(api, actor)
    response = create_key(api, actor, name, _scopes(scopes))
    expect_status(response, 201)
    _keep(key_ring, actor, name, response)


@when(
    parsers.re(rf'^{WHO} creates an API key "{KEY}" with the scopes (?P<scopes>.+)$'),
    target_fixture="reply",
)
def creates_key(
    cast: Cast, api: TaskHubClient, key_ring: KeyRing, who: str, name: str, scopes: str
) -> httpx.Response:
    actor = _actor(cast, who)
    response = cast.answered(create_key(api, actor, name, _scopes(scopes)))
    _keep(key_ring, actor, name, response)
    return response


@when(
    parsers.re(rf"^{WHO} asks for an API key with the scopes (?P<scopes>.+)$"),
    target_fixture="reply",
)
def asks_for_key(cast: Cast, api: TaskHubClient, who: str, scopes: str) -> httpx.Response:
    return cast.answered(create_key(api, _actor(cast, who), "asked", _scopes(scopes)))


@then(parsers.re(rf"^the {KEY} key's secret is shown once, recognisable as a TaskHub key$"))
def shown_once(api: TaskHubClient, key_ring: KeyRing, reply: httpx.Response, name: str) -> None:
    expect_status(reply, 201)
    issued = key_ring[name]
    assert issued.secret.startswith(PREFIX), describe(reply)
    assert len(issued.secret) == KEY_LENGTH, describe(reply)
    assert issued.secret == key_of(issued.secret[len(PREFIX) : len(PREFIX) + RANDOM_LENGTH])
    listed = api.request("GET", "/auth/api-keys", token=issued.owner.require_access())
    expect_status(listed, 200)
    assert issued.secret[len(PREFIX) :] not in listed.text, "the listing shows the secret again"


@given(parsers.re(rf"^the {KEY} key has been used$"))
def key_used(api: TaskHubClient, key_ring: KeyRing, name: str) -> None:
    expect_status(api.request("GET", "/tasks", headers=_with_key(key_ring[name].secret)), 200)


@when(parsers.re(rf"^{WHO} lists {HER} API keys$"), target_fixture="reply")
def lists_keys(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(
        api.request("GET", "/auth/api-keys", token=_actor(cast, who).require_access())
    )


@then(
    parsers.re(rf"^the {KEY} key is listed with its scopes and its last use, without its secret$")
)
def listed_without_secret(key_ring: KeyRing, reply: httpx.Response, name: str) -> None:
    expect_status(reply, 200)
    issued = key_ring[name]
    (item,) = [item for item in json_body(reply)["items"] if item["id"] == issued.id]
    assert item["scopes"] == issued.body["scopes"], describe(reply)
    assert item["last_used_at"], f"the key's use is not recorded: {item}"
    assert item["created_at"] == issued.body["created_at"], describe(reply)
    assert "key" not in item, describe(reply)
    assert issued.secret[len(PREFIX) :] not in reply.text, "the listing shows the secret again"


# --- using a key ------------------------------------------------------------------------


@then(
    parsers.re(rf'^the {KEY} key lists (?P<owner>{NAME})\'s tasks, "(?P<title>[^"]+)" among them$')
)
def key_lists_tasks(
    cast: Cast,
    api: TaskHubClient,
    key_ring: KeyRing,
    task_book: TaskBook,
    name: str,
    owner: str,
    title: str,
) -> None:
    response = api.request(
        "GET", "/tasks", headers={"Authorization": f"Bearer {key_ring[name].secret}"}
    )
    expect_status(response, 200)
    items = json_body(response)["items"]
    assert title in [task["title"] for task in items], describe(response)
    owned = {task["id"] for task in task_book.owned_by(cast.actors[owner])}
    assert {task["id"] for task in items} == owned, describe(response)


@when(parsers.re(rf"^the {KEY} key is used to create a task$"), target_fixture="reply")
def key_creates_task(
    cast: Cast, api: TaskHubClient, key_ring: KeyRing, task_book: TaskBook, name: str
) -> httpx.Response:
    response = api.request(
        "POST",
        "/tasks",
        json={"title": f"Made with the {name} key"},
        headers={"Authorization": f"Bearer {key_ring[name].secret}"},
    )
    if response.status_code == 201:
        task_book.keep(json_body(response))
    return cast.answered(response)


@when(
    parsers.re(rf"^the {KEY} key is used to read (?P<owner>{NAME})'s task$"), target_fixture="reply"
)
def key_reads_task(
    cast: Cast, api: TaskHubClient, key_ring: KeyRing, task_book: TaskBook, name: str, owner: str
) -> httpx.Response:
    task = task_book.latest_of(cast.actors[owner])
    headers = _with_key(key_ring[name].secret)
    return cast.answered(api.request("GET", f"/tasks/{task['id']}", headers=headers))


@when(parsers.re(rf"^the {KEY} key is used to create another API key$"), target_fixture="reply")
def key_creates_key(cast: Cast, api: TaskHubClient, key_ring: KeyRing, name: str) -> httpx.Response:
    body = {"name": "minted", "scopes": ["tasks:read"]}
    headers = {"Authorization": f"Bearer {key_ring[name].secret}"}
    return cast.answered(api.request("POST", "/auth/api-keys", json=body, headers=headers))


@when(
    parsers.re(rf"^the {KEY} key is used to read the notifications that failed for good$"),
    target_fixture="reply",
)
def key_reads_dead_letters(
    cast: Cast, api: TaskHubClient, key_ring: KeyRing, name: str
) -> httpx.Response:
    headers = _with_key(key_ring[name].secret)
    return cast.answered(api.request("GET", "/notify/failed", headers=headers))


@then(parsers.re(r"^(?:it|she|he|they) (?:is|are) refused for lacking the scope (?P<scope>\S+)$"))
def lacks_scope(reply: httpx.Response, scope: str) -> None:
    expect_status(reply, 403)
    error = expect_error_envelope(reply)
    assert error["code"] == "INSUFFICIENT_SCOPE", describe(reply)
    assert scope in error["message"], f"the answer does not name {scope}; {describe(reply)}"


@then(parsers.re(rf"^the task is created as (?P<owner>{NAME})'s$"))
def created_as(cast: Cast, reply: httpx.Response, owner: str) -> None:
    expect_status(reply, 201)
    assert json_body(reply)["owner_id"] == cast.actors[owner].user_id, describe(reply)


# --- revoking ---------------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} revokes the {KEY} key$"))
def revokes_key(cast: Cast, api: TaskHubClient, key_ring: KeyRing, who: str, name: str) -> None:
    issued = key_ring[name]
    token = _actor(cast, who).require_access()
    expect_status(
        cast.answered(api.request("DELETE", f"/auth/api-keys/{issued.id}", token=token)), 204
    )
    issued.revoked_at = time.monotonic()


@when(parsers.re(rf"^the administrator revokes (?P<owner>{NAME})'s {KEY} key$"))
def admin_revokes_key(
    cast: Cast, api: TaskHubClient, key_ring: KeyRing, owner: str, name: str
) -> None:
    issued = key_ring[name]
    user_id = _user_id(api, cast.actors[owner])
    token = cast.actors[ADMINISTRATOR].require_access()
    path = f"/auth/users/{user_id}/api-keys/{issued.id}"
    expect_status(cast.answered(api.request("DELETE", path, token=token)), 204)
    issued.revoked_at = time.monotonic()


@then(parsers.re(rf"^(?P<owner>{NAME}) sees the {KEY} key revoked by the administrator$"))
def sees_revoked(cast: Cast, api: TaskHubClient, key_ring: KeyRing, owner: str, name: str) -> None:
    issued = key_ring[name]
    response = api.request("GET", "/auth/api-keys", token=cast.actors[owner].require_access())
    expect_status(response, 200)
    (item,) = [item for item in json_body(response)["items"] if item["id"] == issued.id]
    assert item["revoked_at"], f"the key is not shown revoked: {item}"
    assert item["revoked_by"] == _user_id(api, cast.actors[ADMINISTRATOR]), item


@then(parsers.re(rf"^the {KEY} key is refused within (?P<seconds>\d+) seconds$"))
def refused_within(api: TaskHubClient, key_ring: KeyRing, name: str, seconds: str) -> None:
    issued = key_ring[name]
    assert issued.revoked_at is not None, f"the {name} key was not revoked"
    deadline = issued.revoked_at + int(seconds) + REVOCATION_SLACK_SECONDS
    for path in ("/tasks", "/notify/jobs"):
        while True:
            response = api.request("GET", path, headers=_with_key(issued.secret))
            if response.status_code == 401:
                expect_error_envelope(response)
                break
            assert time.monotonic() < deadline, (
                f"the revoked key still works {seconds} s after its revocation; "
                f"{describe(response)}"
            )
            time.sleep(POLL_SECONDS)


# --- wrong keys -------------------------------------------------------------------------


def _wrong_key(key_ring: KeyRing, cast: Cast, wrong: str) -> tuple[str, dict[str, str]]:
    """(the key presented, how) for the phrase `wrong`."""
    if wrong == "a guessed key":
        return guessed_key(), {}
    owner, _, how = wrong.partition("'s key")
    secret = key_ring.of(cast[owner]).secret
    variants = {
        " cut short": secret[:-1],
        " with a wrong checksum": wrong_checksum(secret),
        " with another vendor's prefix": "ghp_" + secret[len(PREFIX) :],
        " as a query parameter": secret,
    }
    assert how in variants, f"no wrong key called {wrong!r}"
    return variants[how], {"query": "yes"} if how == " as a query parameter" else {}


@when(parsers.re(r"^someone presents (?P<wrong>.+) to the task service$"), target_fixture="reply")
def presents_wrong_key(
    cast: Cast, api: TaskHubClient, key_ring: KeyRing, wrong: str
) -> httpx.Response:
    key, how = _wrong_key(key_ring, cast, wrong)
    key_ring.presented.append(key)
    if how.get("query"):
        params = {"api_key": key, "key": key, "access_token": key}
        return cast.answered(api.request("GET", "/tasks", params=params))
    return cast.answered(api.request("GET", "/tasks", headers={"Authorization": f"Bearer {key}"}))


@when(parsers.re(rf"^someone times near misses of (?P<owner>{NAME})'s key and random guesses$"))
def times_wrong_keys(cast: Cast, api: TaskHubClient, key_ring: KeyRing, owner: str) -> None:
    secret = key_ring.of(cast[owner]).secret
    timings: dict[str, list[float]] = {"near miss": [], "random guess": []}
    for sample in range(TIMING_SAMPLES):
        for kind, key in (
            ("near miss", near_miss(secret, sample)),
            ("random guess", guessed_key()),
        ):
            response = api.request("GET", "/tasks", headers=_with_key(key))
            expect_status(response, 401)
            timings[kind].append(response.elapsed.total_seconds())
    key_ring.timings = timings


@then("both kinds of wrong key take a similar time")
def similar_time(key_ring: KeyRing) -> None:
    near, guess = (min(key_ring.timings[kind]) for kind in ("near miss", "random guess"))
    slow, fast = max(near, guess), min(near, guess)
    assert slow <= fast * TIMING_RATIO or slow - fast <= TIMING_SLACK_SECONDS, (
        f"a near miss is refused in {near * 1000:.1f} ms, a random guess in "
        f"{guess * 1000:.1f} ms: timing tells how much of a key matched"
    )


# --- logs -------------------------------------------------------------------------------


@then(parsers.re(rf"^no log of the stack holds the {KEY} key or a near copy of it$"))
def no_key_in_logs(target: Target, key_ring: KeyRing, name: str) -> None:
    assert target.log_dir is not None, "the scenario is @logs: the target must have log files"
    time.sleep(LOG_FLUSH_SECONDS)
    secret = key_ring[name].secret
    # The random part identifies a key whatever was done to its ends.
    needles = {secret[len(PREFIX) : len(PREFIX) + RANDOM_LENGTH]}
    needles |= {key[len(PREFIX) : len(PREFIX) + RANDOM_LENGTH] for key in key_ring.presented}
    found = []
    for path in sorted(target.log_dir.glob("*.log")):
        text = path.read_text(errors="replace")
        found += [f"{path.name} holds {needle[:6]}..." for needle in needles if needle in text]
    assert not found, "; ".join(found)

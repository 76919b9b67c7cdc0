"""Steps of features/security/sign_in.feature: guessing, forged addresses, timing (API2, API4)."""

from __future__ import annotations

import httpx
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_outcome, expect_status
from taskhub_e2e.steps.access_control import Holdings
from taskhub_e2e.steps.auth import all_pages, sign_in

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
OWNER = r"(?P<owner>[A-Z][a-z]+)"
POSSESSIVE = r"(?:her|his|their)"
WRONG_PASSWORD = "Wrong-password-0"
# Documentation range (RFC 5737): never a real client.
FORGED_ADDRESS = "203.0.113.77"
FORGED_FORWARDING = {
    "X-Forwarded-For": FORGED_ADDRESS,
    "X-Real-IP": FORGED_ADDRESS,
    "Forwarded": f"for={FORGED_ADDRESS}",
}
# Enough to pass any sane per-account limit; the first 429 ends the guessing.
MAX_GUESSES = 30
TIMING_SAMPLES = 3
# A sign-in for an unknown address must cost at least this share of a wrong password's
# time: a shortcut that skips the password hash is 10-50 times faster.
MIN_TIMING_RATIO = 0.3


# --- signing in (API2, API4) ------------------------------------------------------------------


def login_as(
    api: TaskHubClient, actor: Actor, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"email": actor.person.email, "password": password}
    return api.request("POST", "/auth/login", json=body, headers=headers)


@when(parsers.re(rf"^someone keeps guessing {OWNER}'s password$"), target_fixture="reply")
def keep_guessing(cast: Cast, api: TaskHubClient, owner: str) -> httpx.Response:
    actor = cast[owner]
    first = login_as(api, actor, WRONG_PASSWORD)
    expect_outcome(first, "told the credentials are wrong")
    for attempt in range(2, MAX_GUESSES + 1):
        guess = login_as(api, actor, f"{WRONG_PASSWORD}-{attempt}")
        if guess.status_code != 401:
            return cast.answered(guess)
    raise AssertionError(f"{MAX_GUESSES} wrong passwords in a row were never throttled")


@then("the answer says when to try again")
def retry_after(reply: httpx.Response) -> None:
    value = reply.headers.get("retry-after", "")
    assert value.isdigit(), f"no Retry-After in seconds; {describe(reply)}"
    assert int(value) > 0, describe(reply)


@when(parsers.re(rf"^{WHO} signs in with {POSSESSIVE} right password$"), target_fixture="reply")
def right_password(cast: Cast, api: TaskHubClient, who: str) -> httpx.Response:
    return cast.answered(sign_in(api, cast[who]))


@when(
    parsers.re(rf"^someone signs in as {OWNER} pretending to come from another address$"),
    target_fixture="reply",
)
def forged_address_sign_in(cast: Cast, api: TaskHubClient, owner: str) -> httpx.Response:
    actor = cast[owner]
    return cast.answered(login_as(api, actor, actor.person.password, FORGED_FORWARDING))


@given(parsers.re(rf"^{WHO} has failed to sign in pretending to come from another address$"))
def failed_with_forged_address(cast: Cast, api: TaskHubClient, who: str) -> None:
    response = login_as(api, cast[who], WRONG_PASSWORD, FORGED_FORWARDING)
    expect_outcome(response, "told the credentials are wrong")


@then(parsers.re(rf"^the audit shows {POSSESSIVE} failed sign-in from {POSSESSIVE} real address$"))
def audit_real_address(cast: Cast, api: TaskHubClient, reply: httpx.Response) -> None:
    expect_status(reply, 200)
    admin = cast.actors["the administrator"]
    actor = next(a for name, a in cast.actors.items() if name != "the administrator")
    rows = all_pages(
        api, lambda **page: api.audit(admin.require_access(), **page), user_id=actor.user_id
    )
    failed = [row for row in rows if row.get("user_id") == actor.user_id and not row["success"]]
    assert failed, f"no failed sign-in of {actor.name} in the audit"
    assert failed[0].get("ip"), f"the audit row has no address: {failed[0]}"
    assert failed[0]["ip"] != FORGED_ADDRESS, "the audit took the forged forwarding header"


@when(
    parsers.re(
        rf"^someone times sign-ins with wrong passwords for {OWNER} "
        r"and with unknown e-mail addresses$"
    )
)
def time_sign_ins(cast: Cast, api: TaskHubClient, holdings: Holdings, owner: str) -> None:
    actor = cast[owner]
    wrong, unknown = [], []
    for _ in range(TIMING_SAMPLES):
        answer = login_as(api, actor, WRONG_PASSWORD)
        expect_outcome(answer, "told the credentials are wrong")
        wrong.append(answer.elapsed.total_seconds())
        nobody = cast.identities.person("Nobody")
        answer = api.login(nobody.email, nobody.password)
        expect_outcome(answer, "told the credentials are wrong")
        unknown.append(answer.elapsed.total_seconds())
    holdings.timings = {"wrong password": wrong, "unknown e-mail": unknown}


@then("both kinds take a similar time")
def similar_time(holdings: Holdings) -> None:
    # The fastest of each kind: the least disturbed by whatever else the machine does.
    wrong, unknown = (
        min(holdings.timings["wrong password"]),
        min(holdings.timings["unknown e-mail"]),
    )
    assert unknown >= MIN_TIMING_RATIO * wrong, (
        f"an unknown e-mail is answered much faster ({unknown:.3f} s) than a wrong password "
        f"({wrong:.3f} s): timing tells who has an account"
    )

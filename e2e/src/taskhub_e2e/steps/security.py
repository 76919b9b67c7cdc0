"""Steps of features/security: object and function level access, tokens, sign-in, front door, SSRF.

What a scenario creates (tasks, notifications) lives in the `holdings` fixture. Requests go
through the `api` fixture, so every one of them is in the failure report. The token
forgeries here extend `taskhub_e2e.tokens` with those that need the published key set, a
key server, or (natively) TaskHub's own signing key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc.jwk import RSAKey
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import describe, expect_outcome, expect_status, json_body
from taskhub_e2e.stack.native import NativeStack
from taskhub_e2e.steps.auth import all_pages, ensure_signed_in, refresh, sign_in
from taskhub_e2e.target import Target
from taskhub_e2e.tokens import split, unsigned

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
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


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


# --- token forgeries ---------------------------------------------------------------------

Jwks = dict[str, Any]
Header = dict[str, Any]
Claims = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_input(header: Header, claims: Claims) -> str:
    def segment(value: dict[str, Any]) -> str:
        return _b64(json.dumps(value, separators=(",", ":")).encode())

    return f"{segment(header)}.{segment(claims)}"


def _rs256(key: rsa.RSAPrivateKey, header: Header, claims: Claims) -> str:
    signing_input = _signing_input(header, claims)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
    }


def _b64_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def public_key_pem(jwks: Jwks, kid: str) -> bytes:
    """The published key `kid` as PEM, built by hand from the JWKS (what an attacker does)."""
    member = next((key for key in jwks["keys"] if key.get("kid") == kid), None)
    assert member is not None, f"the JWKS does not publish the token's key {kid}"
    numbers = rsa.RSAPublicNumbers(_b64_int(member["e"]), _b64_int(member["n"]))
    return numbers.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def hs256_with_public_key(token: str, jwks: Jwks) -> str:
    """Key confusion: HMAC-SHA256 keyed with the server's public key PEM."""
    header, claims, _signature = split(token)
    header["alg"] = "HS256"
    signing_input = _signing_input(header, claims)
    secret = public_key_pem(jwks, header["kid"])
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def carrying_own_key(token: str, _jwks: Jwks) -> str:
    """Signed by the attacker, who embeds the matching public key in the header (`jwk`)."""
    header, claims, _signature = split(token)
    key = _attacker_key()
    return _rs256(key, header | {"jwk": _public_jwk(key)}, claims)


def pointing_at(token: str, member: str, url: str) -> str:
    """Signed by the attacker, whose key would be found at `url` (`jku` or `x5u`)."""
    header, claims, _signature = split(token)
    return _rs256(_attacker_key(), header | {member: url}, claims)


ATTACKER_FORGERIES: dict[str, Callable[[str, Jwks], str]] = {
    "unsigned in upper case": lambda token, _jwks: unsigned(token, alg="NONE"),
    "unsigned in title case": lambda token, _jwks: unsigned(token, alg="None"),
    "signed with the public key as a secret": hs256_with_public_key,
    "carrying the attacker's own key": carrying_own_key,
    "pointing at the attacker's key set": lambda token, _jwks: pointing_at(
        token, "jku", "https://attacker.example/jwks.json"
    ),
    "pointing at the attacker's certificate": lambda token, _jwks: pointing_at(
        token, "x5u", "https://attacker.example/cert.pem"
    ),
    "cut short": lambda token, _jwks: token.rsplit(".", 1)[0],
    "not a token at all": lambda _token, _jwks: "not-a-token",
}

HOUR = 3600


def _set(**values: Any) -> Callable[[Header, Claims], None]:
    def change(_header: Header, claims: Claims) -> None:
        claims.update(values)

    return change


def _drop(part: str, name: str) -> Callable[[Header, Claims], None]:
    def change(header: Header, claims: Claims) -> None:
        (header if part == "header" else claims).pop(name, None)

    return change


def _header(**values: Any) -> Callable[[Header, Claims], None]:
    def change(header: Header, _claims: Claims) -> None:
        header.update(values)

    return change


# Flaws of a genuinely signed token (features/security/tokens.feature), resolved lazily so
# "now" is the moment of signing.
GENUINE_FLAWS: dict[str, Callable[[], Callable[[Header, Claims], None]]] = {
    "has expired": lambda: _set(iat=int(time.time()) - 2 * HOUR, exp=int(time.time()) - HOUR),
    "has no expiry": lambda: _drop("claims", "exp"),
    "comes from another issuer": lambda: _set(iss="https://attacker.example"),
    "is meant for another audience": lambda: _set(aud="another-service"),
    "is not valid yet": lambda: _set(nbf=int(time.time()) + HOUR),
    "was issued in the future": lambda: _set(iat=int(time.time()) + HOUR),
    "names an unknown key": lambda: _header(kid="retired-key-0"),
    "names a key by a file path": lambda: _header(kid="../../../../../../dev/null"),
    "names a key with SQL": lambda: _header(kid="x' UNION SELECT 'secret' --"),
    "has no token type": lambda: _drop("header", "typ"),
    "is typed as a refresh token": lambda: _header(typ="rt+jwt"),
    "names nobody": lambda: _drop("claims", "sub"),
}


@dataclass(frozen=True)
class GenuineSigner:
    """TaskHub's private signing keys by `kid` (the RFC 7638 thumbprint auth-svc uses)."""

    keys: dict[str, rsa.RSAPrivateKey]

    @classmethod
    def from_keys_dir(cls, folder: Path) -> GenuineSigner:
        keys: dict[str, rsa.RSAPrivateKey] = {}
        for pem in sorted(folder.glob("*.pem")):
            data = pem.read_bytes()
            private = serialization.load_pem_private_key(data, password=None)
            assert isinstance(private, rsa.RSAPrivateKey), f"{pem} is not an RSA key"
            jwk = RSAKey.import_key(data)
            jwk.ensure_kid()
            assert jwk.kid is not None
            keys[jwk.kid] = private
        return cls(keys)

    def resign(self, token: str, flaw: Callable[[Header, Claims], None] | None = None) -> str:
        """The token's header and claims, changed by `flaw`, signed with the real key."""
        header, claims, _signature = split(token)
        key = self.keys.get(header["kid"])
        assert key is not None, f"no key {header['kid']} in the stack's keys folder"
        if flaw is not None:
            flaw(header, claims)
        return _rs256(key, header, claims)


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


# --- tokens (API2) ---------------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} presents a forged token: (?P<forgery>.+)$"), target_fixture="reply")
def present_forgery(
    cast: Cast, api: TaskHubClient, holdings: Holdings, who: str, forgery: str
) -> httpx.Response:
    assert forgery in ATTACKER_FORGERIES, f"unknown forgery; known: {sorted(ATTACKER_FORGERIES)}"
    jwks = api.jwks()
    expect_status(jwks, 200)
    holdings.presented = ATTACKER_FORGERIES[forgery](cast[who].require_access(), json_body(jwks))
    return cast.answered(api.me(holdings.presented))


@then("the tasks and notification services refuse that token too")
def others_refuse(api: TaskHubClient, holdings: Holdings) -> None:
    assert holdings.presented, "no token was presented"
    expect_outcome(api.list_tasks(holdings.presented), "told to sign in")
    expect_outcome(api.list_jobs(holdings.presented), "told to sign in")


class KeyServer:
    """A listening socket standing in for an attacker's key server; counts connections."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.socket.settimeout(0.5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/keys.json"

    def was_contacted(self) -> bool:
        try:
            connection, _address = self.socket.accept()
        except TimeoutError:
            return False
        connection.close()
        return True


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.socket.close()


@when(
    parsers.re(
        rf"^{WHO} asks who (?:she|he|they) (?:is|are) with a token pointing at a key server "
        r"by its (?P<header>jku|x5u)$"
    ),
    target_fixture="reply",
)
def present_pointing_token(
    cast: Cast, api: TaskHubClient, key_server: KeyServer, who: str, header: str
) -> httpx.Response:
    token = pointing_at(cast[who].require_access(), header, key_server.url)
    return cast.answered(api.me(token))


@then("nobody fetched anything from the key server")
def key_server_untouched(key_server: KeyServer) -> None:
    assert not key_server.was_contacted(), "a service fetched the key a token pointed at"


@pytest.fixture
def genuine_signer(native_stack: NativeStack) -> GenuineSigner:
    """TaskHub's signing keys, read from the native stack's keys folder (skips elsewhere)."""
    return GenuineSigner.from_keys_dir(Path(native_stack.env()["AUTH_KEYS_DIR"]))


@given("TaskHub's own signature is at hand")
def signature_at_hand(genuine_signer: GenuineSigner) -> None:
    assert genuine_signer.keys, "the native stack holds no signing key"


@when(
    parsers.re(
        rf"^{WHO} asks who (?:she|he|they) (?:is|are) with a genuinely signed token "
        r"that (?P<flaw>.+)$"
    ),
    target_fixture="reply",
)
def present_genuine_flaw(
    cast: Cast,
    api: TaskHubClient,
    holdings: Holdings,
    genuine_signer: GenuineSigner,
    who: str,
    flaw: str,
) -> httpx.Response:
    assert flaw in GENUINE_FLAWS, f"unknown flaw; known: {sorted(GENUINE_FLAWS)}"
    access = cast[who].require_access()
    # The control: the same claims re-signed unchanged are accepted, so a refusal below is
    # the flaw's doing and not a signing mistake of the suite.
    control = genuine_signer.resign(access)
    expect_status(api.me(control), 200)
    holdings.presented = genuine_signer.resign(access, GENUINE_FLAWS[flaw]())
    return cast.answered(api.me(holdings.presented))


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

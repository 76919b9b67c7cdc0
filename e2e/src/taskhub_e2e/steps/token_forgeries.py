"""Steps of features/security/tokens.feature: forged and flawed tokens (OWASP API2).

The forgeries here extend `taskhub_e2e.tokens` with those that need the published key set,
a key server, or (natively) TaskHub's own signing key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc.jwk import RSAKey
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import expect_outcome, expect_status, json_body
from taskhub_e2e.steps.access_control import Holdings
from taskhub_e2e.tokens import split, unsigned
from taskhub_stack.native import NativeStack

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"


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

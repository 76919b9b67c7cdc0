"""The shared token verifier: every malformed, forged or misdirected token is a 401."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from joserfc import jws
from joserfc.jwk import KeySet, OctKey, RSAKey

from taskhub_common.auth import (
    ACCESS_TOKEN_TYPE,
    REFRESH_TOKEN_TYPE,
    JwksKeySource,
    Principal,
    Role,
    StaticKeySource,
    TokenVerifier,
    VerifiedToken,
    VerifiedTokens,
    access_token_claims,
    principal_dependency,
    read_unverified_header,
    require_admin,
    sign_token,
)
from taskhub_common.errors import Forbidden, ServiceUnavailable, Unauthorized
from taskhub_common.loopback import LoopbackServer, json_response
from taskhub_common.testing import TokenMinter

ISSUER, AUDIENCE = "taskhub-auth", "taskhub"


@pytest.fixture(scope="module")
def minter() -> TokenMinter:
    return TokenMinter(issuer=ISSUER, audience=AUDIENCE)


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = access_token_claims(
        user_id=uuid.uuid4(), role=Role.USER, issuer=ISSUER, audience=AUDIENCE, lifetime_seconds=60
    )
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def test_a_valid_access_token_gives_the_principal(minter: TokenMinter) -> None:
    user_id = uuid.uuid4()
    principal = await minter.verifier.principal(minter.access_token(user_id, Role.ADMIN))
    assert principal == Principal(user_id=user_id, role=Role.ADMIN)
    assert principal.is_admin


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_in_any_case_is_refused(minter: TokenMinter, alg: str) -> None:
    header = {"alg": alg, "typ": ACCESS_TOKEN_TYPE, "kid": minter.key.kid}
    token = f"{_b64(header)}.{_b64(_claims())}."
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(token)


async def test_hs256_signed_with_the_public_key_is_refused(minter: TokenMinter) -> None:
    # The classic confusion attack: the public PEM used as an HMAC secret. Built by hand
    # because JOSE libraries (rightly) refuse to make such a key.
    public_pem = minter.key.as_pem(private=False)
    header = {"alg": "HS256", "typ": ACCESS_TOKEN_TYPE, "kid": minter.key.kid}
    signing_input = f"{_b64(header)}.{_b64(_claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(token)


async def test_a_tampered_payload_is_refused(minter: TokenMinter) -> None:
    header, _, signature = minter.access_token(uuid.uuid4()).split(".")
    token = f"{header}.{_b64(_claims(role='admin'))}.{signature}"
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(token)


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 3600},
        {"exp": None},
        {"iss": "someone-else"},
        {"aud": "another-audience"},
        {"iat": int(time.time()) + 3600},
        {"nbf": int(time.time()) + 3600},
        {"sub": None},
        {"jti": None},
        {"sub": "not-a-uuid"},
        {"role": "superuser"},
        {"exp": float("nan")},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
async def test_bad_claims_are_refused(minter: TokenMinter, overrides: dict[str, Any]) -> None:
    token = sign_token(minter.key, _claims(**overrides), token_type=ACCESS_TOKEN_TYPE)
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(token)


@pytest.mark.parametrize(
    "extra_header",
    [
        {"jwk": {"kty": "RSA"}},
        {"jku": "http://evil.example/jwks"},
        {"x5u": "http://evil.example/cert"},
        {"kid": "../../etc/passwd"},
        {"kid": "unknown-kid"},
        {"typ": REFRESH_TOKEN_TYPE},
        {"typ": "JWT"},
    ],
    ids=lambda h: next(iter(h)),
)
async def test_suspicious_headers_are_refused(
    minter: TokenMinter, extra_header: dict[str, Any]
) -> None:
    header = {"alg": "RS256", "typ": ACCESS_TOKEN_TYPE, "kid": minter.key.kid, **extra_header}
    token = jws.serialize_compact(
        header, json.dumps(_claims()).encode(), minter.key, algorithms=["RS256"]
    )
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(token)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "!!!.e30.x",
        f"{_b64([1])}.e30.x",
        f"{_b64({'alg': 'RS256', 'typ': ACCESS_TOKEN_TYPE, 'kid': 7})}.e30.x",
    ],
)
async def test_garbage_is_refused(minter: TokenMinter, token: str) -> None:
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(token)


async def test_a_refresh_token_is_not_an_access_token(minter: TokenMinter) -> None:
    refresh = sign_token(minter.key, _claims(), token_type=REFRESH_TOKEN_TYPE)
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(refresh)
    claims = await minter.verifier.claims(refresh, expected_type=REFRESH_TOKEN_TYPE)
    assert claims["iss"] == ISSUER


def test_read_unverified_header_needs_an_object() -> None:
    assert read_unverified_header(f"{_b64({'alg': 'RS256'})}.e30.x") == {"alg": "RS256"}


class _JwksServer:
    """A real HTTP server on loopback publishing a key set that tests can swap."""

    def __init__(self) -> None:
        self.key_set: dict[str, Any] = {"keys": []}
        self.status = 200
        self.server = LoopbackServer(lambda _: json_response(self.key_set, self.status))
        self.url = f"{self.server.url}/jwks.json"

    @property
    def requests(self) -> int:
        return len(self.server.requests)

    def publish(self, *keys: RSAKey) -> None:
        self.key_set = KeySet(list(keys)).as_dict(private=False)  # type: ignore[assignment]


@pytest.fixture
def jwks_server() -> Iterator[_JwksServer]:
    server = _JwksServer()
    with server.server:
        yield server


def _verifier(source: JwksKeySource) -> TokenVerifier:
    return TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE)


async def test_jwks_is_fetched_once_and_cached(jwks_server: _JwksServer) -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    jwks_server.publish(key)
    verifier = _verifier(JwksKeySource(jwks_server.url))
    for _ in range(3):
        await verifier.principal(sign_token(key, _claims(), token_type=ACCESS_TOKEN_TYPE))
    assert jwks_server.requests == 1


async def test_an_unknown_kid_refetches_so_rotated_keys_work(jwks_server: _JwksServer) -> None:
    old, new = (RSAKey.generate_key(2048, auto_kid=True) for _ in range(2))
    jwks_server.publish(old)
    verifier = _verifier(JwksKeySource(jwks_server.url, min_refetch_seconds=0))
    await verifier.principal(sign_token(old, _claims(), token_type=ACCESS_TOKEN_TYPE))
    jwks_server.publish(old, new)
    await verifier.principal(sign_token(new, _claims(), token_type=ACCESS_TOKEN_TYPE))
    assert jwks_server.requests == 2


async def test_refetches_for_unknown_kids_are_rate_limited(jwks_server: _JwksServer) -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    jwks_server.publish(key)
    verifier = _verifier(JwksKeySource(jwks_server.url, min_refetch_seconds=60))
    await verifier.principal(sign_token(key, _claims(), token_type=ACCESS_TOKEN_TYPE))
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await verifier.principal(sign_token(stranger, _claims(), token_type=ACCESS_TOKEN_TYPE))
    assert jwks_server.requests == 1


async def test_unreachable_jwks_is_a_503_not_a_401(jwks_server: _JwksServer) -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    jwks_server.status = 500
    verifier = _verifier(JwksKeySource(jwks_server.url))
    with pytest.raises(ServiceUnavailable):
        await verifier.principal(sign_token(key, _claims(), token_type=ACCESS_TOKEN_TYPE))


async def test_a_failed_refetch_keeps_the_cached_keys(jwks_server: _JwksServer) -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    jwks_server.publish(key)
    verifier = _verifier(JwksKeySource(jwks_server.url, min_refetch_seconds=0))
    await verifier.principal(sign_token(key, _claims(), token_type=ACCESS_TOKEN_TYPE))
    jwks_server.status = 500
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    with pytest.raises(Unauthorized):
        await verifier.principal(sign_token(stranger, _claims(), token_type=ACCESS_TOKEN_TYPE))
    await verifier.principal(sign_token(key, _claims(), token_type=ACCESS_TOKEN_TYPE))


# Short enough to wait out in a test; the services default to 60 s.
MAX_AGE = 0.3


def _token(key: RSAKey) -> str:
    return sign_token(key, _claims(), token_type=ACCESS_TOKEN_TYPE)


async def test_the_key_set_is_refetched_once_it_is_older_than_its_max_age(
    jwks_server: _JwksServer,
) -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    jwks_server.publish(key)
    verifier = _verifier(JwksKeySource(jwks_server.url, max_age_seconds=MAX_AGE))
    await verifier.principal(_token(key))
    await verifier.principal(_token(key))
    assert jwks_server.requests == 1
    await asyncio.sleep(MAX_AGE)
    await verifier.principal(_token(key))  # a known kid, yet the set is too old
    assert jwks_server.requests == 2


@pytest.mark.parametrize("cached", [True, False], ids=["cached token", "fresh forgery"])
async def test_a_withdrawn_key_stops_verifying_within_the_max_age(
    jwks_server: _JwksServer, cached: bool
) -> None:
    leaked, replacement = (RSAKey.generate_key(2048, auto_kid=True) for _ in range(2))
    jwks_server.publish(leaked, replacement)
    verifier = _verifier(JwksKeySource(jwks_server.url, max_age_seconds=MAX_AGE))
    old_token = _token(leaked)
    await verifier.principal(old_token)
    jwks_server.publish(replacement)  # the leaked key is deleted and auth-svc restarted
    await verifier.principal(old_token)  # within the max age the old set is still trusted
    await asyncio.sleep(MAX_AGE)
    with pytest.raises(Unauthorized):
        await verifier.principal(old_token if cached else _token(leaked))
    await verifier.principal(_token(replacement))
    with pytest.raises(Unauthorized):
        await verifier.principal(old_token)


async def test_cached_tokens_go_with_their_withdrawn_key(jwks_server: _JwksServer) -> None:
    leaked, replacement = (RSAKey.generate_key(2048, auto_kid=True) for _ in range(2))
    jwks_server.publish(leaked, replacement)
    verifier = _verifier(JwksKeySource(jwks_server.url, max_age_seconds=MAX_AGE))
    first, second, kept = _token(leaked), _token(leaked), _token(replacement)
    for token in (first, second, kept):
        await verifier.principal(token)
    jwks_server.publish(replacement)
    await asyncio.sleep(MAX_AGE)
    with pytest.raises(Unauthorized):
        await verifier.principal(first)
    assert len(verifier.verified) == 1  # `second` went too, `kept` stays
    assert verifier.verified.get(kept, now=time.time()) is not None


async def test_a_failed_refetch_of_a_stale_set_keeps_it_and_retries_spaced(
    jwks_server: _JwksServer,
) -> None:
    key = RSAKey.generate_key(2048, auto_kid=True)
    jwks_server.publish(key)
    verifier = _verifier(JwksKeySource(jwks_server.url, max_age_seconds=MAX_AGE))
    await verifier.principal(_token(key))
    jwks_server.status = 500
    await asyncio.sleep(MAX_AGE)
    for _ in range(5):
        await verifier.principal(_token(key))  # auth-svc is down: the old set still serves
    assert jwks_server.requests == 2  # one attempt, not one per verification
    jwks_server.status = 200
    jwks_server.publish(RSAKey.generate_key(2048, auto_kid=True))
    await asyncio.sleep(MAX_AGE)
    with pytest.raises(Unauthorized):
        await verifier.principal(_token(key))  # the retry succeeded: the key is gone
    assert jwks_server.requests == 3


def test_refetch_spacing_never_exceeds_the_max_age() -> None:
    source = JwksKeySource(
        "http://127.0.0.1:9/jwks.json", min_refetch_seconds=30, max_age_seconds=5
    )
    assert source.min_refetch_seconds == 5


async def test_static_key_source_refuses_non_rsa_keys() -> None:
    oct_key = OctKey.generate_key(256, auto_kid=True)
    source = StaticKeySource(KeySet([oct_key]))
    with pytest.raises(Unauthorized):
        await source.key_for(oct_key.kid or "")


def test_require_admin() -> None:
    admin = Principal(user_id=uuid.uuid4(), role=Role.ADMIN)
    assert require_admin(admin) is admin
    with pytest.raises(Forbidden):
        require_admin(Principal(user_id=uuid.uuid4(), role=Role.USER))


async def test_principal_dependency_reads_only_the_bearer_header(minter: TokenMinter) -> None:
    from taskhub_common.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    current = principal_dependency(lambda: minter.verifier)

    @app.get("/whoami")
    async def whoami(principal: Principal = Depends(current)) -> dict[str, str]:
        return {"id": str(principal.user_id)}

    user_id = uuid.uuid4()
    token = minter.access_token(user_id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert ok.json() == {"id": str(user_id)}
        missing = await client.get("/whoami")
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "UNAUTHORIZED"
        assert missing.headers["www-authenticate"] == "Bearer"
        in_query = await client.get(f"/whoami?access_token={token}")
        assert in_query.status_code == 401
        basic = await client.get("/whoami", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status_code == 401


async def test_a_verified_token_is_not_verified_again_until_its_exp(
    minter: TokenMinter, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(minter.verifier.keys, issuer=ISSUER, audience=AUDIENCE)
    user_id = uuid.uuid4()
    token = minter.access_token(user_id, lifetime=60)
    first = await verifier.principal(token)
    verifications = 0
    verify = verifier._verify

    async def counting_verify(token: str, *, expected_type: str) -> tuple[str, dict[str, Any]]:
        nonlocal verifications
        verifications += 1
        return await verify(token, expected_type=expected_type)

    monkeypatch.setattr(verifier, "_verify", counting_verify)
    assert await verifier.principal(token) == first == Principal(user_id, Role.USER)
    assert verifications == 0
    # At its `exp` the entry goes: the token is verified again (and refused by then).
    monkeypatch.setattr(time, "time", lambda: first_exp(token) + 31)
    with pytest.raises(Unauthorized):
        await verifier.principal(token)
    assert verifications == 1
    assert len(verifier.verified) == 0


def first_exp(token: str) -> int:
    payload = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


async def test_forged_variants_of_a_cached_token_are_still_refused(minter: TokenMinter) -> None:
    token = minter.access_token(uuid.uuid4())
    await minter.verifier.principal(token)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(Unauthorized):
        await minter.verifier.principal(f"{header}.{payload}.{flipped}")


def _entry(principal: Principal, kid: str = "k1", expires_at: float = 100.0) -> VerifiedToken:
    return VerifiedToken(principal, kid, expires_at)


def test_verified_tokens_keep_the_most_recently_used_within_their_size() -> None:
    cache = VerifiedTokens(max_size=2)
    alice, bob, carol = (_entry(Principal(uuid.uuid4(), Role.USER)) for _ in range(3))
    cache.put("a", alice)
    cache.put("b", bob)
    assert cache.get("a", now=1.0) is alice  # "a" is now the most recently used
    cache.put("c", carol)
    assert cache.get("b", now=1.0) is None
    assert cache.get("a", now=1.0) is alice
    assert cache.get("c", now=1.0) is carol
    assert cache.get("c", now=100.0) is None  # expired entries are dropped
    assert len(cache) == 1


def test_a_verified_token_cache_of_size_zero_keeps_nothing() -> None:
    cache = VerifiedTokens(max_size=0)
    cache.put("a", _entry(Principal(uuid.uuid4(), Role.ADMIN)))
    assert cache.get("a", now=1.0) is None


def test_dropping_a_kid_forgets_exactly_the_tokens_it_signed() -> None:
    cache = VerifiedTokens()
    principal = Principal(uuid.uuid4(), Role.USER)
    cache.put("a", _entry(principal, kid="old"))
    cache.put("b", _entry(principal, kid="new"))
    cache.put("c", _entry(principal, kid="old"))
    cache.drop_kid("old")
    assert [cache.get(token, now=1.0) is not None for token in "abc"] == [False, True, False]

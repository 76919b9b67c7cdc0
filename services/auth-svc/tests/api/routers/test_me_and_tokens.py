"""GET /auth/me and the JWKS, and every way a forged or misused token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jws
from joserfc.jwk import RSAKey

from auth_svc.core.config import get_settings
from auth_svc.core.keys import KeyRing
from taskhub_common.auth import ACCESS_TOKEN_TYPE, Role, access_token_claims, sign_token

pytestmark = pytest.mark.integration

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_for(user_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    settings = get_settings()
    claims = access_token_claims(
        user_id=user_id,
        role=Role.USER,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime_seconds=900,
    )
    claims.update(overrides)
    return claims


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_me_returns_the_callers_profile(
    client: httpx.AsyncClient, user: Any, log_in: Any
) -> None:
    pair = await log_in(client, user)

    response = await me(client, pair["access"])

    assert response.status_code == 200
    profile = response.json()
    assert profile["id"] == str(user.id)
    assert profile["email"] == user.email
    assert profile["role"] == "user"
    assert set(profile) == {"id", "email", "name", "role", "created_at"}


async def test_me_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me")
    assert_unauthorized(response)
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_token_in_the_query_string_is_ignored(client: httpx.AsyncClient, user: Any) -> None:
    token = user.headers["Authorization"].removeprefix("Bearer ")
    assert_unauthorized(await client.get("/auth/me", params={"access_token": token}))


async def test_a_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, user: Any, log_in: Any
) -> None:
    pair = await log_in(client, user)
    assert_unauthorized(await me(client, pair["refresh"]))


async def test_a_token_of_a_vanished_user_is_401(
    client: httpx.AsyncClient, key_ring: KeyRing
) -> None:
    token = sign_token(key_ring.signing_key, claims_for(uuid.uuid4()), token_type=ACCESS_TOKEN_TYPE)
    assert_unauthorized(await me(client, token))


async def test_a_tampered_payload_is_401(client: httpx.AsyncClient, user: Any) -> None:
    token = user.headers["Authorization"].removeprefix("Bearer ")
    header, _, signature = token.split(".")
    forged = b64(claims_for(user.id, role="admin"))
    assert_unauthorized(await me(client, f"{header}.{forged}.{signature}"))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_unsigned_tokens_are_401(
    client: httpx.AsyncClient, user: Any, key_ring: KeyRing, alg: str
) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": key_ring.signing_key.kid}
    for signature in ("", "AAAA"):
        token = f"{b64(header)}.{b64(claims_for(user.id))}.{signature}"
        assert_unauthorized(await me(client, token))


async def test_hs256_signed_with_the_public_key_is_401(
    client: httpx.AsyncClient, user: Any, key_ring: KeyRing
) -> None:
    # Built by hand: JOSE libraries refuse to use a public key as an HMAC secret.
    public_pem = key_ring.signing_key.as_pem(private=False)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key_ring.signing_key.kid}
    signing_input = f"{b64(header)}.{b64(claims_for(user.id))}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert_unauthorized(await me(client, f"{signing_input}.{b64(signature)}"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"iat": int(time.time()) + 3600},
        {"nbf": int(time.time()) + 3600},
        {"iss": "someone-else"},
        {"aud": "another-audience"},
    ],
    ids=["expired", "issued-in-future", "not-yet-valid", "wrong-issuer", "wrong-audience"],
)
async def test_tokens_with_bad_claims_are_401(
    client: httpx.AsyncClient, user: Any, key_ring: KeyRing, overrides: dict[str, Any]
) -> None:
    token = sign_token(
        key_ring.signing_key, claims_for(user.id, **overrides), token_type=ACCESS_TOKEN_TYPE
    )
    assert_unauthorized(await me(client, token))


async def test_an_unknown_kid_is_401(client: httpx.AsyncClient, user: Any) -> None:
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    token = sign_token(stranger, claims_for(user.id), token_type=ACCESS_TOKEN_TYPE)
    assert_unauthorized(await me(client, token))


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u"])
async def test_a_token_naming_its_own_key_is_401(
    client: httpx.AsyncClient, user: Any, key_ring: KeyRing, member: str
) -> None:
    attacker = RSAKey.generate_key(2048, auto_kid=True)
    value: Any = (
        attacker.as_dict(private=False) if member == "jwk" else "https://attacker.example/keys"
    )
    header = {"alg": "RS256", "typ": "at+jwt", "kid": key_ring.signing_key.kid, member: value}
    payload = json.dumps(claims_for(user.id)).encode()
    token = jws.serialize_compact(header, payload, attacker, algorithms=["RS256"])
    assert_unauthorized(await me(client, token))


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "a.b", "e30.e30.e30", "x" * 5000])
async def test_malformed_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    assert_unauthorized(await me(client, token))


async def test_the_jwks_publishes_public_members_only(
    client: httpx.AsyncClient, user: Any, log_in: Any, key_ring: KeyRing
) -> None:
    response = await client.get("/auth/.well-known/jwks.json")

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert {"kty", "kid", "use", "alg", "n", "e"} <= key.keys()
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
        assert not PRIVATE_MEMBERS & key.keys()
    access = (await log_in(client, user))["access"]
    kid = jws.extract_compact(access.encode()).headers()["kid"]
    assert kid in {key["kid"] for key in keys}

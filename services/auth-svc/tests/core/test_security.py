"""Issued tokens: headers and claims, and that access and refresh tokens never stand in
for each other."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from joserfc import jwt

from auth_svc.core.config import get_settings
from auth_svc.core.keys import KeyRing
from auth_svc.core.security import (
    get_verifier,
    issue_access_token,
    issue_refresh_token,
    verify_refresh_token,
)
from taskhub_common.auth import REFRESH_TOKEN_TYPE, Role, sign_token
from taskhub_common.errors import Unauthorized


def decode(token: str, ring: KeyRing) -> tuple[dict[str, Any], dict[str, Any]]:
    decoded = jwt.decode(token, ring.keys, algorithms=["RS256"])
    return decoded.header, decoded.claims


def test_access_tokens_carry_the_contract_claims(key_ring: KeyRing) -> None:
    settings = get_settings()
    user_id = uuid.uuid4()

    header, claims = decode(issue_access_token(user_id=user_id, role=Role.ADMIN), key_ring)

    assert header == {"alg": "RS256", "kid": key_ring.signing_key.kid, "typ": "at+jwt"}
    assert claims["iss"] == settings.jwt_issuer
    assert claims["aud"] == settings.jwt_audience
    assert claims["sub"] == str(user_id)
    assert claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_seconds
    assert abs(claims["iat"] - time.time()) < 5
    assert claims["jti"]


def test_refresh_tokens_name_their_family_and_live_longer(key_ring: KeyRing) -> None:
    settings = get_settings()
    user_id, family_id = uuid.uuid4(), uuid.uuid4()

    issued = issue_refresh_token(user_id=user_id, family_id=family_id)
    header, claims = decode(issued.token, key_ring)

    assert header["typ"] == "rt+jwt"
    assert claims["fam"] == str(family_id)
    assert claims["jti"] == str(issued.jti)
    assert "role" not in claims
    assert claims["exp"] - claims["iat"] == settings.refresh_token_ttl_seconds
    assert int(issued.expires_at.timestamp()) == claims["exp"]


async def test_a_refresh_token_verifies_as_refresh_only(key_ring: KeyRing) -> None:
    user_id, family_id = uuid.uuid4(), uuid.uuid4()
    issued = issue_refresh_token(user_id=user_id, family_id=family_id)

    claims = await verify_refresh_token(issued.token)

    assert (claims.jti, claims.user_id, claims.family_id) == (issued.jti, user_id, family_id)
    with pytest.raises(Unauthorized):
        await get_verifier().principal(issued.token)


async def test_an_access_token_is_not_a_refresh_token(key_ring: KeyRing) -> None:
    access = issue_access_token(user_id=uuid.uuid4(), role=Role.USER)
    with pytest.raises(Unauthorized):
        await verify_refresh_token(access)


async def test_a_refresh_token_without_family_is_refused(key_ring: KeyRing) -> None:
    settings = get_settings()
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    token = sign_token(key_ring.signing_key, claims, token_type=REFRESH_TOKEN_TYPE)
    with pytest.raises(Unauthorized):
        await verify_refresh_token(token)

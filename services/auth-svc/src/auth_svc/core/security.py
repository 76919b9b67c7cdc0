"""Token issuing and verification wiring of auth-svc (keys, access and refresh JWTs).

Refresh tokens are JWTs as well (`typ: rt+jwt`; claims iss, aud, sub, iat, exp, jti and
`fam`, the token family). The signature lets garbage be refused without a database trip,
but validity is decided by the `refresh_tokens` row found by `jti` (spent, revoked,
expired); the database never holds the token itself.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auth_svc.core.config import get_settings
from auth_svc.core.keys import KeyRing, load_key_ring
from auth_svc.core.passwords import PasswordHashing
from taskhub_common.auth import (
    ACCESS_TOKEN_TYPE,
    INVALID_TOKEN_MESSAGE,
    REFRESH_TOKEN_TYPE,
    Role,
    StaticKeySource,
    TokenVerifier,
    access_token_claims,
    sign_token,
)
from taskhub_common.errors import Unauthorized

FAMILY_CLAIM = "fam"


class KeyStore:
    """The process's key ring, loaded on first use and swapped whole on reload."""

    def __init__(self, directory: Path, *, key_size: int) -> None:
        self.directory = directory
        self.key_size = key_size
        self._ring: KeyRing | None = None
        self._verifier: TokenVerifier | None = None

    @property
    def ring(self) -> KeyRing:
        if self._ring is None:
            self.load(self.directory)
        assert self._ring is not None
        return self._ring

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            self.load(self.directory)
        assert self._verifier is not None
        return self._verifier

    def load(self, directory: Path) -> KeyRing:
        """(Re)load the keys of `directory` and verify with exactly those from now on."""
        settings = get_settings()
        ring = load_key_ring(directory, key_size=self.key_size)
        self.directory = directory
        self._ring = ring
        self._verifier = TokenVerifier(
            StaticKeySource(ring.keys), issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        return ring


_settings = get_settings()
key_store = KeyStore(Path(_settings.keys_dir), key_size=_settings.key_size)
passwords = PasswordHashing(
    concurrency=_settings.password_hash_concurrency,
    slots_dir=Path(_settings.password_hash_slots_dir),
)


def get_verifier() -> TokenVerifier:
    """The verifier over auth-svc's own key set (for `principal_dependency`)."""
    return key_store.verifier


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token: str
    jti: uuid.UUID
    family_id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    jti: uuid.UUID
    user_id: uuid.UUID
    family_id: uuid.UUID


def issue_access_token(*, user_id: uuid.UUID, role: Role) -> str:
    settings = get_settings()
    claims = access_token_claims(
        user_id=user_id,
        role=role,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime_seconds=settings.access_token_ttl_seconds,
    )
    return sign_token(key_store.ring.signing_key, claims, token_type=ACCESS_TOKEN_TYPE)


def issue_refresh_token(*, user_id: uuid.UUID, family_id: uuid.UUID) -> RefreshToken:
    settings = get_settings()
    issued_at = int(time.time())
    expires_at = issued_at + settings.refresh_token_ttl_seconds
    jti = uuid.uuid4()
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "iat": issued_at,
        "exp": expires_at,
        "jti": str(jti),
        FAMILY_CLAIM: str(family_id),
    }
    token = sign_token(key_store.ring.signing_key, claims, token_type=REFRESH_TOKEN_TYPE)
    return RefreshToken(
        token=token,
        jti=jti,
        family_id=family_id,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )


async def verify_refresh_token(token: str) -> RefreshClaims:
    """The claims of a refresh token with a valid signature, `typ`, issuer and lifetime."""
    claims = await get_verifier().claims(token, expected_type=REFRESH_TOKEN_TYPE)
    try:
        return RefreshClaims(
            jti=uuid.UUID(str(claims["jti"])),
            user_id=uuid.UUID(str(claims["sub"])),
            family_id=uuid.UUID(str(claims[FAMILY_CLAIM])),
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized(INVALID_TOKEN_MESSAGE) from exc

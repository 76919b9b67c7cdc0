"""Verification of TaskHub's RS256 tokens, shared by every service.

auth-svc signs tokens and publishes its public keys as JWKS; the other services fetch the
key set once, cache it, and verify each token locally. Every way a token can be wrong ends
in the same 401 envelope; only "the key set cannot be fetched at all" is a 503, because
that is our outage, not the caller's mistake.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from taskhub_common.errors import Forbidden, ServiceUnavailable, Unauthorized

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
# Explicit typing (RFC 8725 §3.11, RFC 9068): the header `typ` tells the two kinds apart,
# so neither can be replayed in the other's place.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
REFRESH_TOKEN_TYPE = "rt+jwt"  # noqa: S105
# Header members that would let a token choose its own verification key (never honoured).
FORBIDDEN_HEADER_MEMBERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
_SANE_KID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
INVALID_TOKEN_MESSAGE = "The token is invalid or expired."  # noqa: S105
# Access tokens verified recently; a client sends the same one for up to its lifetime.
VERIFIED_TOKEN_CACHE_SIZE = 4096


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as its access token describes it."""

    user_id: uuid.UUID
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class KeySource(Protocol):
    async def key_for(self, kid: str) -> RSAKey: ...


class StaticKeySource:
    """Keys known locally (auth-svc's own key set, or a test's)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    async def key_for(self, kid: str) -> RSAKey:
        return _rsa_key(self.keys, kid)


class JwksKeySource:
    """A remote JWKS, fetched lazily, cached, and refetched when an unknown `kid` appears.

    Refetches are spaced by `min_refetch_seconds` so tokens with random `kid`s cannot make
    us hammer auth-svc.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        min_refetch_seconds: float = 30.0,
    ) -> None:
        self.url = url
        self.client = client or httpx.AsyncClient(timeout=3.0)
        self.min_refetch_seconds = min_refetch_seconds
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> RSAKey:
        if self._keys is not None and _has_kid(self._keys, kid):
            return _rsa_key(self._keys, kid)
        async with self._lock:
            stale = time.monotonic() - self._fetched_at >= self.min_refetch_seconds
            if self._keys is None or (stale and not _has_kid(self._keys, kid)):
                await self._refresh()
        assert self._keys is not None
        return _rsa_key(self._keys, kid)

    async def _refresh(self) -> None:
        try:
            response = await self.client.get(self.url)
            response.raise_for_status()
            keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            logger.warning("JWKS fetch failed", extra={"error": type(exc).__name__})
            if self._keys is None:
                raise ServiceUnavailable("Token keys are unavailable; try again shortly.") from exc
            return
        finally:
            self._fetched_at = time.monotonic()
        self._keys = keys


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys)


def _rsa_key(keys: KeySet, kid: str) -> RSAKey:
    for key in keys:
        if key.kid == kid and isinstance(key, RSAKey):
            return key
    raise Unauthorized(INVALID_TOKEN_MESSAGE)


def _b64url_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def read_unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, before any trust is placed in it."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthorized(INVALID_TOKEN_MESSAGE)
    try:
        header = _b64url_json(parts[0])
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise Unauthorized(INVALID_TOKEN_MESSAGE) from exc
    if not isinstance(header, dict):
        raise Unauthorized(INVALID_TOKEN_MESSAGE)
    return header


def _checked_kid(header: dict[str, Any], expected_type: str) -> str:
    kid = header.get("kid")
    if (
        header.get("alg") != ALGORITHM  # exact match: "none", "None", "HS256" all fail
        or header.get("typ") != expected_type
        or FORBIDDEN_HEADER_MEMBERS & header.keys()
        or not isinstance(kid, str)
        or not _SANE_KID.match(kid)
    ):
        raise Unauthorized(INVALID_TOKEN_MESSAGE)
    return kid


def sign_token(key: RSAKey, claims: dict[str, Any], *, token_type: str) -> str:
    """A compact RS256 JWS with `kid` and explicit `typ` headers (auth-svc issues with it)."""
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": token_type}
    return jwt.encode(header, claims, key, algorithms=[ALGORITHM], default_type=None)


def access_token_claims(
    *,
    user_id: uuid.UUID,
    role: Role,
    issuer: str,
    audience: str,
    lifetime_seconds: int,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of an access token: iss, aud, sub, role, iat, exp, jti."""
    issued_at = int(time.time()) if now is None else now
    return {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "role": role.value,
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds,
        "jti": uuid.uuid4().hex,
    }


class VerifiedTokens:
    """The principals of access tokens that passed verification, each until its `exp`.

    Verifying an RS256 token (parse, signature, claims) is the largest fixed cost of an
    authenticated request, and a client repeats one token for its whole lifetime. Keyed by
    the complete token text, signature included, so only a token that verified itself can
    hit; an entry is dropped at its `exp`, from then on the token is verified again (and
    refused). Least recently used entries go first when `max_size` is reached.
    """

    def __init__(self, max_size: int = VERIFIED_TOKEN_CACHE_SIZE) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str, *, now: float) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, expires_at = entry
        if now >= expires_at:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal, *, expires_at: float) -> None:
        if self.max_size <= 0:
            return
        self._entries[token] = (principal, expires_at)
        self._entries.move_to_end(token)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class TokenVerifier:
    """Checks signature, `typ`, `iss`, `aud`, `exp`, `iat`, `nbf`, `sub`, `jti` and `role`."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
        cache_size: int = VERIFIED_TOKEN_CACHE_SIZE,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.verified = VerifiedTokens(cache_size)

    async def claims(self, token: str, *, expected_type: str) -> dict[str, Any]:
        """The verified claims of `token`, or `Unauthorized`."""
        kid = _checked_kid(read_unverified_header(token), expected_type)
        key = await self.keys.key_for(kid)
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway_seconds,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
        )
        try:
            decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
            registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as exc:
            # joserfc raises ValueError for some malformed inputs: all of them are 401s.
            raise Unauthorized(INVALID_TOKEN_MESSAGE) from exc
        return decoded.claims

    async def principal(self, token: str) -> Principal:
        """The caller an access token stands for (verified once, then cached until `exp`)."""
        now = time.time()
        cached = self.verified.get(token, now=now)
        if cached is not None:
            return cached
        claims = await self.claims(token, expected_type=ACCESS_TOKEN_TYPE)
        try:
            principal = Principal(user_id=uuid.UUID(str(claims["sub"])), role=Role(claims["role"]))
        except (KeyError, ValueError) as exc:
            raise Unauthorized(INVALID_TOKEN_MESSAGE) from exc
        # `exp` is essential and numeric once validated; the leeway is not cached.
        self.verified.put(token, principal, expires_at=float(claims["exp"]))
        return principal


# auto_error=False: a missing header must become our envelope, not FastAPI's 403 body.
bearer_scheme = HTTPBearer(auto_error=False, description="An access token from POST /auth/login")


def principal_dependency(
    verifier: Callable[[], TokenVerifier],
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency returning the caller's `Principal` from `Authorization: Bearer ...`.

    Tokens are read from the header only: query strings end up in logs.
    """

    async def current_principal(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("A bearer access token is required.")
        return await verifier().principal(credentials.credentials)

    return current_principal


def require_admin(principal: Principal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Administrators only.")
    return principal

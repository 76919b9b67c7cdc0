"""Verification of TaskHub's RS256 tokens, shared by every service.

auth-svc signs tokens and publishes its public keys as JWKS; the other services fetch the
key set, cache it for at most a maximum age (so a withdrawn key stops verifying), and verify
each token locally. Every way a token can be wrong ends
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
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from taskhub_common.api_keys import (
    SCOPE_DESCRIPTIONS,
    ApiKeyLookup,
    InsufficientScope,
    looks_like_key,
)
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
# A key removed from auth-svc's JWKS stops verifying everywhere within this many seconds.
DEFAULT_JWKS_MAX_AGE_SECONDS = 60.0


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as its access token or API key describes it.

    `scopes` is None for an access token (it may do all its user may do); an API key's
    caller has the key's scopes and is always a plain user, whatever its owner's role.
    """

    user_id: uuid.UUID
    role: Role
    scopes: frozenset[str] | None = None
    api_key_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def allows(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


class KeySource(Protocol):
    async def key_for(self, kid: str) -> RSAKey: ...


class StaticKeySource:
    """Keys known locally (auth-svc's own key set, or a test's)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self._by_kid = _rsa_keys_by_kid(keys)

    async def key_for(self, kid: str) -> RSAKey:
        key = self._by_kid.get(kid)
        if key is None:
            raise Unauthorized(INVALID_TOKEN_MESSAGE)
        return key


class JwksKeySource:
    """A remote JWKS, fetched lazily, cached, and refetched when stale or a `kid` is unknown.

    The set is trusted for at most `max_age_seconds`: the first verification after that
    fetches it again, so a key removed from auth-svc (a revoked, leaked key) stops verifying
    everywhere within that time. A failed refetch keeps the old set (an auth-svc restart must
    not lock everyone out) and is retried on later verifications. Fetches are spaced by
    `min_refetch_seconds` (at most `max_age_seconds`) so tokens with random `kid`s cannot
    make us hammer auth-svc.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        min_refetch_seconds: float = 30.0,
        max_age_seconds: float = DEFAULT_JWKS_MAX_AGE_SECONDS,
    ) -> None:
        self.url = url
        self.client = client or httpx.AsyncClient(timeout=3.0)
        self.max_age_seconds = max_age_seconds
        self.min_refetch_seconds = min(min_refetch_seconds, max_age_seconds)
        self._keys: dict[str, RSAKey] | None = None
        self._loaded_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> RSAKey:
        keys = self._keys
        if keys is not None and kid in keys and not self._stale(time.monotonic()):
            return keys[kid]
        async with self._lock:
            if self._should_fetch(kid):
                await self._refresh()
        assert self._keys is not None  # _refresh raises when it has no set at all
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized(INVALID_TOKEN_MESSAGE)
        return key

    def _stale(self, now: float) -> bool:
        return now - self._loaded_at >= self.max_age_seconds

    def _should_fetch(self, kid: str) -> bool:
        if self._keys is None:
            return True
        now = time.monotonic()
        if now - self._attempted_at < self.min_refetch_seconds:
            return False
        return kid not in self._keys or self._stale(now)

    async def _refresh(self) -> None:
        try:
            response = await self.client.get(self.url)
            response.raise_for_status()
            keys = _rsa_keys_by_kid(KeySet.import_key_set(response.json()))
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            logger.warning("JWKS fetch failed", extra={"error": type(exc).__name__})
            if self._keys is None:
                raise ServiceUnavailable("Token keys are unavailable; try again shortly.") from exc
            return
        finally:
            self._attempted_at = time.monotonic()
        dropped = sorted((self._keys or {}).keys() - keys.keys())
        if dropped:
            logger.info("JWKS keys withdrawn", extra={"kids": dropped})
        self._keys = keys
        self._loaded_at = self._attempted_at


def _rsa_keys_by_kid(keys: KeySet) -> dict[str, RSAKey]:
    return {key.kid: key for key in keys if isinstance(key, RSAKey) and key.kid}


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


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """What a verified access token established, and the key that signed it."""

    principal: Principal
    kid: str
    expires_at: float


class VerifiedTokens:
    """Access tokens that passed verification, each until its `exp` or its key's withdrawal.

    Verifying an RS256 token (parse, signature, claims) is the largest fixed cost of an
    authenticated request, and a client repeats one token for its whole lifetime. Keyed by
    the complete token text, signature included, so only a token that verified itself can
    hit; an entry is dropped at its `exp`, from then on the token is verified again (and
    refused), and with every other entry of its `kid` once that key is no longer published.
    Least recently used entries go first when `max_size` is reached.
    """

    def __init__(self, max_size: int = VERIFIED_TOKEN_CACHE_SIZE) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[str, VerifiedToken] = OrderedDict()

    def get(self, token: str, *, now: float) -> VerifiedToken | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if now >= entry.expires_at:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return entry

    def put(self, token: str, entry: VerifiedToken) -> None:
        if self.max_size <= 0:
            return
        self._entries[token] = entry
        self._entries.move_to_end(token)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def drop_kid(self, kid: str) -> None:
        """Forget every token signed with `kid` (the key was withdrawn)."""
        for token in [token for token, entry in self._entries.items() if entry.kid == kid]:
            del self._entries[token]

    def __len__(self) -> int:
        return len(self._entries)


class RoleConfirmer(Protocol):
    async def confirm(self, principal: Principal) -> Principal: ...


class TokenVerifier:
    """Checks signature, `typ`, `iss`, `aud`, `exp`, `iat`, `nbf`, `sub`, `jti` and `role`.

    With `roles`, an admin claim is confirmed against the user's current role (see
    `taskhub_common.roles`); without it (auth-svc itself, tests) the token is believed.
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
        cache_size: int = VERIFIED_TOKEN_CACHE_SIZE,
        roles: RoleConfirmer | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.verified = VerifiedTokens(cache_size)
        self.roles = roles

    async def claims(self, token: str, *, expected_type: str) -> dict[str, Any]:
        """The verified claims of `token`, or `Unauthorized`."""
        return (await self._verify(token, expected_type=expected_type))[1]

    async def _verify(self, token: str, *, expected_type: str) -> tuple[str, dict[str, Any]]:
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
        return kid, decoded.claims

    async def principal(self, token: str) -> Principal:
        """The caller an access token stands for (verified once, then cached until `exp`)."""
        principal = await self._token_principal(token)
        # Only an admin claim costs a lookup: a plain user's request goes on untouched.
        if principal.role is Role.ADMIN and self.roles is not None:
            return await self.roles.confirm(principal)
        return principal

    async def _token_principal(self, token: str) -> Principal:
        cached = self.verified.get(token, now=time.time())
        if cached is not None:
            await self._key_still_published(cached.kid)
            return cached.principal
        kid, claims = await self._verify(token, expected_type=ACCESS_TOKEN_TYPE)
        try:
            principal = Principal(user_id=uuid.UUID(str(claims["sub"])), role=Role(claims["role"]))
        except (KeyError, ValueError) as exc:
            raise Unauthorized(INVALID_TOKEN_MESSAGE) from exc
        # `exp` is essential and numeric once validated; the leeway is not cached.
        self.verified.put(token, VerifiedToken(principal, kid, float(claims["exp"])))
        return principal

    async def _key_still_published(self, kid: str) -> None:
        """A cached token lives no longer than its key (which also keeps the set fresh)."""
        try:
            await self.keys.key_for(kid)
        except Unauthorized:
            self.verified.drop_kid(kid)
            raise


# auto_error=False: a missing header must become our envelope, not FastAPI's 403 body.
bearer_scheme = HTTPBearer(auto_error=False, description="An access token from POST /auth/login")
# Services that accept API keys publish these instead: the scopes each endpoint needs are
# listed against both in the OpenAPI document (an access token has every scope).
key_bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="BearerTokenOrApiKey",
    description=(
        "An access token from POST /auth/login, or an API key (`thk_...`) from "
        "POST /auth/api-keys. A key needs the scopes an endpoint lists: "
        + "; ".join(f"`{scope}` {text}" for scope, text in SCOPE_DESCRIPTIONS.items())
    ),
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKeyHeader",
    description="An API key (`thk_...`), as an alternative to `Authorization: Bearer`.",
)


def principal_dependency(
    verifier: Callable[[], TokenVerifier],
    keys: Callable[[], ApiKeyLookup] | None = None,
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency returning the caller's `Principal` from `Authorization: Bearer ...`.

    With `keys`, an API key is accepted too (as the bearer credential or `X-API-Key`), and
    the scopes declared with `Security(..., scopes=[...])` are required of it (403
    INSUFFICIENT_SCOPE). Credentials are read from headers only: query strings end up in
    logs.
    """
    if keys is None:

        async def current_principal(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        ) -> Principal:
            if credentials is None or credentials.scheme.lower() != "bearer":
                raise Unauthorized("A bearer access token is required.")
            return await verifier().principal(credentials.credentials)

        return current_principal

    async def current_principal_or_key(
        security_scopes: SecurityScopes,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(key_bearer_scheme)],
        api_key: Annotated[str | None, Depends(api_key_scheme)],
    ) -> Principal:
        bearer = credentials.credentials if credentials is not None else None
        if credentials is not None and credentials.scheme.lower() != "bearer":
            bearer = None
        if api_key is not None and bearer is not None:
            raise Unauthorized("Send either a bearer credential or an X-API-Key, not both.")
        credential = api_key if api_key is not None else bearer
        if credential is None:
            raise Unauthorized("A bearer access token or an API key is required.")
        if api_key is not None or looks_like_key(credential):
            principal = await key_principal(keys(), credential)
        else:
            principal = await verifier().principal(credential)
        for scope in security_scopes.scopes:
            if not principal.allows(scope):
                raise InsufficientScope(scope)
        return principal

    return current_principal_or_key


async def key_principal(keys: ApiKeyLookup, key: str) -> Principal:
    """The caller an API key stands for: its owner as a plain user, with the key's scopes."""
    grant = await keys.grant(key)
    return Principal(
        user_id=grant.user_id,
        role=Role.USER,
        scopes=frozenset(grant.scopes),
        api_key_id=grant.key_id,
    )


def require_admin(principal: Principal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Administrators only.")
    return principal

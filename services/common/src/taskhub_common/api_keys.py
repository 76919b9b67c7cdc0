"""API keys for integrations: their format, their scopes, and their verification by services.

A key reads `thk_<32 random base62 characters><6 base62 characters of CRC32>`. The prefix
lets secret scanners recognise a leaked key; the checksum lets every service refuse a
malformed or mistyped key before any lookup. auth-svc stores only an HMAC-SHA256 of a key
(a fast keyed hash: the secret is high-entropy, unlike a password) and answers lookups by
that hash on its internal API; services keep each answer, "no such key" too, for a few
seconds per process, which bounds how long a revoked key keeps working.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
import uuid
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial

import httpx

from taskhub_common.errors import ServiceUnavailable, TaskHubError, Unauthorized
from taskhub_common.internal import AuthServiceEndpoint

logger = logging.getLogger(__name__)

KEY_PREFIX = "thk_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RANDOM_LENGTH = 32  # 62**32 ≈ 2**190
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32: any CRC32 fits
KEY_LENGTH = len(KEY_PREFIX) + _RANDOM_LENGTH + _CHECKSUM_LENGTH
_KEY_SHAPE = re.compile(rf"^{KEY_PREFIX}[0-9A-Za-z]{{{_RANDOM_LENGTH + _CHECKSUM_LENGTH}}}$")
# Characters of a key shown in listings so an owner can tell their keys apart.
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 4
INVALID_KEY_MESSAGE = "The API key is invalid, expired or revoked."

# A revoked or expired key stops working everywhere within this many seconds.
DEFAULT_KEY_CACHE_SECONDS = 10.0
KEY_CACHE_SIZE = 4096


class Scope(StrEnum):
    """What a key may do, per service and right. There is no admin scope: never grantable."""

    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    NOTIFY_READ = "notify:read"
    NOTIFY_WRITE = "notify:write"


SCOPE_DESCRIPTIONS: dict[str, str] = {
    Scope.TASKS_READ: "Read your tasks.",
    Scope.TASKS_WRITE: "Create, change and delete your tasks.",
    Scope.NOTIFY_READ: "Read your notification jobs.",
    Scope.NOTIFY_WRITE: "Queue and cancel your notification jobs.",
}


class InsufficientScope(TaskHubError):
    """An API key without the scope an endpoint needs (an access token has every scope)."""

    status_code, code = 403, "INSUFFICIENT_SCOPE"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This API key lacks the scope '{scope}'.")


def _base62(number: int, length: int) -> str:
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), _CHECKSUM_LENGTH)


def key_of(random_part: str) -> str:
    """The key with this random part: the prefix, the part, its checksum."""
    return f"{KEY_PREFIX}{random_part}{_checksum(random_part)}"


def generate_key() -> str:
    """A new secret: 32 random base62 characters (from `secrets`) made into a key."""
    return key_of("".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH)))


def looks_like_key(credential: str) -> bool:
    """Whether a bearer credential is meant as an API key (rather than an access token)."""
    return credential.startswith(KEY_PREFIX)


def is_well_formed(key: str) -> bool:
    """Prefix, length, alphabet and checksum: a key failing any of them is never looked up."""
    if not _KEY_SHAPE.match(key):
        return False
    body = key[len(KEY_PREFIX) :]
    random_part, checksum = body[:_RANDOM_LENGTH], body[_RANDOM_LENGTH:]
    return hmac.compare_digest(_checksum(random_part), checksum)


def key_hash(key: str, secret: bytes) -> str:
    """The stored form of a key: HMAC-SHA256 under the server secret, hex."""
    return hmac.new(secret, key.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a live key stands for: its id, its owner and its scopes."""

    key_id: uuid.UUID
    user_id: uuid.UUID
    scopes: frozenset[Scope]


@dataclass(frozen=True, slots=True)
class _Answer:
    grant: KeyGrant | None  # None: no live key
    expires_at: float


class KeysUnavailable(ServiceUnavailable):
    """auth-svc cannot answer for a key: a 503, never a guess."""

    message = "The API key cannot be checked right now; try again shortly."


class ApiKeyLookup:
    """Keys resolved through auth-svc `POST /internal/api-keys/verify`, cached per process.

    Answers, "no live key" too, are kept for `ttl_seconds` (at most until the key's own
    expiry), keyed by a SHA-256 of the key so the cache holds no secrets: a revoked or
    expired key is refused everywhere within that time. A malformed key is refused before
    the cache or auth-svc see it. The key travels in the body of an internal call, never in
    a URL (URLs are logged).
    """

    def __init__(
        self,
        auth: AuthServiceEndpoint,
        *,
        ttl_seconds: float = DEFAULT_KEY_CACHE_SECONDS,
        max_size: int = KEY_CACHE_SIZE,
    ) -> None:
        self.auth = auth
        self.url = auth.url("/internal/api-keys/verify")
        self.ttl_seconds = ttl_seconds
        self.max_size = max_size
        self._answers: OrderedDict[bytes, _Answer] = OrderedDict()
        self._pending: dict[bytes, asyncio.Task[_Answer]] = {}

    async def grant(self, key: str) -> KeyGrant:
        """The live key's grant, or `Unauthorized`."""
        if not is_well_formed(key):
            raise Unauthorized(INVALID_KEY_MESSAGE)
        digest = hashlib.sha256(key.encode("ascii")).digest()
        now = time.time()
        answer = self._answers.get(digest)
        if answer is None or now >= answer.expires_at:
            answer = await self._fresh_answer(key, digest)
        else:
            self._answers.move_to_end(digest)
        if answer.grant is None:
            raise Unauthorized(INVALID_KEY_MESSAGE)
        return answer.grant

    async def _fresh_answer(self, key: str, digest: bytes) -> _Answer:
        """One lookup per key at a time, shared by every request that needs it meanwhile.

        When an answer expires, every connection of a busy integration misses at once; one
        lookup each would queue dozens of calls on auth-svc and show as the key requests'
        p99. The lookup runs as its own task, so a caller that goes away cancels only its
        own wait.
        """
        lookup = self._pending.get(digest)
        if lookup is None:
            lookup = asyncio.create_task(self._lookup(key, digest))
            self._pending[digest] = lookup
            lookup.add_done_callback(partial(self._forget_lookup, digest))
        return await asyncio.shield(lookup)

    async def _lookup(self, key: str, digest: bytes) -> _Answer:
        grant, key_expires_at = await self._ask_auth_svc(key)
        answer = _Answer(grant, min(time.time() + self.ttl_seconds, key_expires_at))
        self._remember(digest, answer)
        return answer

    def _forget_lookup(self, digest: bytes, lookup: asyncio.Task[_Answer]) -> None:
        self._pending.pop(digest, None)
        if not lookup.cancelled():
            lookup.exception()  # retrieved here, so an error nobody awaited is not logged

    def _remember(self, digest: bytes, answer: _Answer) -> None:
        if self.ttl_seconds <= 0 or self.max_size <= 0:
            return
        self._answers[digest] = answer
        self._answers.move_to_end(digest)
        while len(self._answers) > self.max_size:
            self._answers.popitem(last=False)

    async def _ask_auth_svc(self, key: str) -> tuple[KeyGrant | None, float]:
        try:
            response = await self.auth.client.post(
                self.url, json={"key": key}, headers=self.auth.headers
            )
        except httpx.HTTPError as exc:
            logger.warning("auth-svc unreachable for a key", extra={"error": type(exc).__name__})
            raise KeysUnavailable from exc
        if response.status_code == httpx.codes.NOT_FOUND:
            return None, float("inf")
        if response.status_code != httpx.codes.OK:
            logger.warning("auth-svc answered %s to a key lookup", response.status_code)
            raise KeysUnavailable
        try:
            body = response.json()
            grant = KeyGrant(
                key_id=uuid.UUID(body["id"]),
                user_id=uuid.UUID(body["user_id"]),
                scopes=frozenset(Scope(scope) for scope in body["scopes"]),
            )
            expires = body.get("expires_at")
            key_expires_at = (
                datetime.fromisoformat(expires).timestamp() if expires else float("inf")
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("auth-svc answered a key lookup with an unexpected body")
            raise KeysUnavailable from exc
        return grant, key_expires_at

    def __len__(self) -> int:
        return len(self._answers)

"""auth-svc's internal user lookup: the e-mail address of a user id.

One HTTP client per process and event loop (connections are reused): unlike the API's
token and key checks (the service kit's one client), contacts are also looked up by the
workers, each on a loop of its own, and a client belongs to the loop that opened its
connections. The answers are kept for `NOTIFY_CONTACT_CACHE_SECONDS` (5 s): a burst of
task events for the same people asks auth-svc once per person, not once per event. The
price is that window: a changed address or a deleted user is seen by notifications up to
that late.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass

import httpx

from notify_svc.core.config import get_settings
from taskhub_common.internal import AuthServiceEndpoint, internal_http_client
from taskhub_common.users import UserLookupFailed, look_up_user

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UserContact:
    id: uuid.UUID
    email: str
    name: str


class AuthUnavailable(Exception):
    """auth-svc did not answer usefully; the caller should try again later."""


class AuthClient:
    """The process's connection to auth-svc and its short-lived contact cache."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # user id -> (monotonic expiry, contact or None for "no such user")
        self._contacts: dict[uuid.UUID, tuple[float, UserContact | None]] = {}

    def _http(self) -> httpx.AsyncClient:
        # A client belongs to the loop that opened its connections; the API and each
        # worker process keep one loop for life, a test suite may not.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = internal_http_client(get_settings().auth_timeout_seconds)
            self._loop = loop
        return self._client

    def _endpoint(self) -> AuthServiceEndpoint:
        # Read per call: where auth-svc is follows the settings of the moment.
        settings = get_settings()
        token = settings.internal_token.get_secret_value()
        return AuthServiceEndpoint(settings.auth_url, token, self._http())

    def clear(self) -> None:
        self._contacts.clear()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch_user(self, user_id: uuid.UUID) -> UserContact | None:
        """The user's contact details, None when auth-svc says the user does not exist."""
        settings = get_settings()
        now = time.monotonic()
        cached = self._contacts.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        contact = await self._lookup(user_id)
        if settings.contact_cache_seconds > 0:
            if len(self._contacts) > CACHE_MAX_ENTRIES:
                self._prune(now)
            self._contacts[user_id] = (now + settings.contact_cache_seconds, contact)
        return contact

    def _prune(self, now: float) -> None:
        expired = [key for key, (expires, _) in self._contacts.items() if expires <= now]
        for key in expired:
            del self._contacts[key]
        if len(self._contacts) > CACHE_MAX_ENTRIES:
            self._contacts.clear()  # all fresh: a storm of distinct users; start over

    async def _lookup(self, user_id: uuid.UUID) -> UserContact | None:
        settings = get_settings()
        try:
            user = await look_up_user(
                self._endpoint(), user_id, timeout_seconds=settings.auth_timeout_seconds
            )
        except UserLookupFailed as exc:
            logger.warning("auth-svc lookup failed", extra={"error": str(exc)})
            raise AuthUnavailable from exc
        return None if user is None else UserContact(id=user.id, email=user.email, name=user.name)


# Bounds the cache's memory; only reached by many distinct recipients within seconds.
CACHE_MAX_ENTRIES = 10_000

auth_client = AuthClient()


async def fetch_user(user_id: uuid.UUID) -> UserContact | None:
    """The user's contact details (cached briefly), None when the user does not exist."""
    return await auth_client.fetch_user(user_id)

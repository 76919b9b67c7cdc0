"""The service kit: what every TaskHub service builds from its settings, once per process.

A service's `db/session.py` builds one `ServiceKit` (database, Redis, the outbound HTTP
client, the lifespan that closes them); a service that trusts auth-svc's tokens builds one
`AuthServiceClients` on it in `api/deps.py`. Tests replace a dependency through
`app.dependency_overrides`, the one override mechanism of every service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from fastapi import Depends, FastAPI
from redis.asyncio import Redis
from starlette.types import Lifespan

from taskhub_common.api_keys import ApiKeyLookup
from taskhub_common.auth import JwksKeySource, Principal, TokenVerifier, require_admin
from taskhub_common.db import Database
from taskhub_common.health import ReadinessCheck
from taskhub_common.internal import AuthServiceEndpoint, internal_http_client
from taskhub_common.roles import CurrentRoles
from taskhub_common.settings import AuthCallerSettings, ServiceSettings
from taskhub_common.tracing import instrument_clients

# Seconds an internal call may take when the service sets no timeout of its own.
DEFAULT_HTTP_TIMEOUT_SECONDS = 3.0

# Something to run for the app's lifetime beside the kit's clients: entered at start-up,
# left at shutdown (before the kit closes its clients).
LifespanExtra = Callable[[], AbstractAsyncContextManager[object]]


class ServiceKit:
    """A service's settings, database, Redis and outbound HTTP client, and one lifespan.

    Built once per process, in the service's `db/session.py`, from `get_settings()` (a
    worker process builds its own, with a smaller `database_pool_size`).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        database_pool_size: int | None = None,
        database_ping: Literal["server", "local"] = "server",
        redis_timeout_seconds: float | None = None,
        http_timeout_seconds: float = DEFAULT_HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self.settings = settings
        self.database = Database(
            settings.database_url,
            pool_size=database_pool_size or settings.database_pool_size,
            ping=database_ping,
        )
        self.redis: Redis = Redis.from_url(
            settings.redis_url,
            socket_timeout=redis_timeout_seconds,
            socket_connect_timeout=redis_timeout_seconds,
        )
        self.http_timeout_seconds = http_timeout_seconds
        self._http: httpx.AsyncClient | None = None

    def http_client(self) -> httpx.AsyncClient:
        """The process's one outbound client, created on first use and again after the
        lifespan closed it (a test suite may run the lifespan more than once)."""
        if self._http is None or self._http.is_closed:
            self._http = internal_http_client(self.http_timeout_seconds)
        return self._http

    @property
    def readiness(self) -> dict[str, ReadinessCheck]:
        return {"database": self.database.ping, "redis": self.redis.ping}

    def lifespan(self, *extras: LifespanExtra) -> Lifespan[FastAPI]:
        """Instrument the engine, run `extras` in order, then close them in reverse and
        the kit's own clients last."""

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            instrument_clients(self.database.engine)
            async with AsyncExitStack() as stack:
                stack.push_async_callback(self.aclose)
                for extra in extras:
                    await stack.enter_async_context(extra())
                yield

        return lifespan

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        await self.redis.aclose()
        await self.database.dispose()


@dataclass(frozen=True, slots=True)
class _AuthClients:
    endpoint: AuthServiceEndpoint
    verifier: TokenVerifier
    keys: ApiKeyLookup


class AuthServiceClients:
    """auth-svc as another service sees it: its internal endpoint, a token verifier over
    its JWKS (admin claims confirmed with it) and the API key lookup.

    All three share the kit's client and are built again when the kit opened a new one.
    """

    def __init__(self, kit: ServiceKit, settings: AuthCallerSettings) -> None:
        self.kit = kit
        self.settings = settings
        self._built: _AuthClients | None = None

    def _current(self) -> _AuthClients:
        client = self.kit.http_client()
        if self._built is None or self._built.endpoint.client is not client:
            self._built = self._build(client)
        return self._built

    def _build(self, client: httpx.AsyncClient) -> _AuthClients:
        settings = self.settings
        endpoint = AuthServiceEndpoint(
            settings.auth_url, settings.internal_token.get_secret_value(), client
        )
        verifier = TokenVerifier(
            JwksKeySource(
                settings.jwks_url, client=client, max_age_seconds=settings.jwks_max_age_seconds
            ),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            roles=CurrentRoles(endpoint, ttl_seconds=settings.admin_role_cache_seconds),
        )
        keys = ApiKeyLookup(endpoint, ttl_seconds=settings.api_key_cache_seconds)
        return _AuthClients(endpoint, verifier, keys)

    def endpoint(self) -> AuthServiceEndpoint:
        return self._current().endpoint

    def token_verifier(self) -> TokenVerifier:
        """Verifies access tokens against auth-svc's JWKS; admin claims are confirmed."""
        return self._current().verifier

    def api_key_lookup(self) -> ApiKeyLookup:
        """API keys resolved by auth-svc, each answer kept `api_key_cache_seconds`."""
        return self._current().keys


def admin_dependency(
    current_principal: Callable[..., Coroutine[Any, Any, Principal]],
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting the caller of `current_principal` only when an administrator
    (the role the token carries, confirmed by `CurrentRoles` where a service has one)."""

    # A default, not an `Annotated` hint: a hint naming a local would stay an unresolved
    # string under postponed evaluation.
    async def admin_user(principal: Principal = Depends(current_principal)) -> Principal:
        return require_admin(principal)

    return admin_user

"""Service-to-service authentication for `/internal/...` routes (never routed by the gateway)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Header
from pydantic import SecretStr

from taskhub_common.errors import Unauthorized

INTERNAL_TOKEN_HEADER = "X-Internal-Token"  # noqa: S105 - a header name, not a secret


def internal_token_guard(
    expected: SecretStr,
) -> Callable[..., Coroutine[Any, Any, None]]:
    """A dependency that admits only callers presenting the shared internal token."""

    async def require_internal_token(
        x_internal_token: Annotated[str | None, Header()] = None,
    ) -> None:
        presented = (x_internal_token or "").encode()
        if not hmac.compare_digest(presented, expected.get_secret_value().encode()):
            raise Unauthorized("A valid internal service token is required.")

    return require_internal_token


def internal_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """The one kind of client a service calls another TaskHub service with.

    trust_env=False: an internal call must never go through an environment proxy. No
    redirects: internal endpoints never redirect, and a redirect could lead elsewhere. A
    short connect timeout: a service that is down is known within a second.
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 1.0)),
        trust_env=False,
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class AuthServiceEndpoint:
    """Where auth-svc's internal API is, the token it wants, and the client that calls it."""

    base_url: str
    token: str
    client: httpx.AsyncClient

    def url(self, path: str) -> str:
        """The absolute URL of `path` (starting with `/internal/...`)."""
        return f"{self.base_url.rstrip('/')}{path}"

    @property
    def headers(self) -> dict[str, str]:
        return {INTERNAL_TOKEN_HEADER: self.token}

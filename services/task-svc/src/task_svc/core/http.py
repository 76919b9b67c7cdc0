"""The one outbound HTTP client of the process (auth-svc lookups, JWKS, outbox delivery)."""

from __future__ import annotations

import httpx

from task_svc.core.config import get_settings

_client: httpx.AsyncClient | None = None


def http_client() -> httpx.AsyncClient:
    """The shared client, created on first use; its connection pool is reused by every call."""
    global _client
    if _client is None or _client.is_closed:
        timeout = get_settings().http_timeout_seconds
        # No redirects: internal endpoints never redirect, and a redirect could leave them.
        _client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)), follow_redirects=False
        )
    return _client


async def close_http_client() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None

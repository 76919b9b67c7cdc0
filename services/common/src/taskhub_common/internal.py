"""Service-to-service authentication for `/internal/...` routes (never routed by the gateway)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

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

"""auth-svc's internal user lookup: the e-mail address of a user id."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import httpx

from notify_svc.core.config import get_settings
from taskhub_common.internal import INTERNAL_TOKEN_HEADER

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UserContact:
    id: uuid.UUID
    email: str
    name: str


class AuthUnavailable(Exception):
    """auth-svc did not answer usefully; the caller should try again later."""


async def fetch_user(user_id: uuid.UUID) -> UserContact | None:
    """The user's contact details, None when auth-svc says the user does not exist."""
    settings = get_settings()
    url = f"{settings.auth_url.rstrip('/')}/internal/users/{user_id}"
    headers = {INTERNAL_TOKEN_HEADER: settings.internal_token.get_secret_value()}
    try:
        # trust_env=False: an internal call must never go through an environment proxy.
        async with httpx.AsyncClient(
            timeout=settings.auth_timeout_seconds, trust_env=False
        ) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        logger.warning("auth-svc lookup failed", extra={"error": type(exc).__name__})
        raise AuthUnavailable from exc
    if response.status_code == httpx.codes.NOT_FOUND:
        return None
    if response.status_code != httpx.codes.OK:
        logger.warning("auth-svc lookup failed", extra={"status": response.status_code})
        raise AuthUnavailable
    try:
        body = response.json()
        return UserContact(
            id=uuid.UUID(str(body["id"])), email=str(body["email"]), name=str(body.get("name", ""))
        )
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("auth-svc lookup answered an unexpected body")
        raise AuthUnavailable from exc

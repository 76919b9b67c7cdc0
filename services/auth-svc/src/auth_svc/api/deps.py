"""Dependencies of auth-svc's routes as `Annotated` aliases: who calls, and with what."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Query, Request

from auth_svc.core.config import get_settings
from auth_svc.core.security import get_verifier
from auth_svc.db.session import DbSession, redis
from auth_svc.models.login_audit import USER_AGENT_MAX_LENGTH
from auth_svc.services.auth import Client
from auth_svc.services.throttle import LoginThrottle
from taskhub_common.auth import Principal, principal_dependency, require_admin
from taskhub_common.internal import internal_token_guard

__all__ = [
    "AdminUser",
    "CallerClient",
    "CurrentUser",
    "DbSession",
    "Limit",
    "PageNumber",
    "Throttle",
    "internal_caller",
]

settings = get_settings()

CurrentUser = Annotated[Principal, Depends(principal_dependency(get_verifier))]


async def _admin(principal: CurrentUser) -> Principal:
    return require_admin(principal)


AdminUser = Annotated[Principal, Depends(_admin)]

internal_caller = Depends(internal_token_guard(settings.internal_token))

PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number.")]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (at most 100).")]


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _client(request: Request) -> Client:
    # The gateway overwrites the header with the address it saw, so it cannot be forged
    # from outside; the peer address serves when the service is called directly.
    header = settings.client_ip_header
    forwarded = request.headers.get(header) if header else None
    peer = request.client.host if request.client else None
    user_agent = request.headers.get("user-agent")
    if user_agent is not None:
        user_agent = user_agent.replace("\x00", "")[:USER_AGENT_MAX_LENGTH]
    return Client(ip=_valid_ip(forwarded) or _valid_ip(peer), user_agent=user_agent or None)


CallerClient = Annotated[Client, Depends(_client)]


login_throttle = LoginThrottle(
    redis,
    account_limit=settings.login_account_max_failures,
    ip_limit=settings.login_ip_max_failures,
    window_seconds=settings.login_failure_window_seconds,
)


def _throttle() -> LoginThrottle:
    return login_throttle


Throttle = Annotated[LoginThrottle, Depends(_throttle)]

"""Dependencies of auth-svc's routes as `Annotated` aliases: who calls, and with what."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Query, Request

from auth_svc.core.config import get_settings
from auth_svc.core.security import get_verifier
from auth_svc.db.session import DbSession, redis
from auth_svc.models.login_audit import USER_AGENT_MAX_LENGTH
from auth_svc.services import users as user_service
from auth_svc.services.auth import Client
from auth_svc.services.throttle import LoginThrottle, RegistrationThrottle
from taskhub_common.auth import Principal, principal_dependency
from taskhub_common.internal import internal_token_guard

__all__ = [
    "AdminUser",
    "CallerClient",
    "CurrentUser",
    "DbSession",
    "Limit",
    "PageNumber",
    "RegisterThrottle",
    "Throttle",
    "internal_caller",
]

settings = get_settings()

# auth-svc verifies tokens with its own key set: no auth-svc client, no API keys here.
current_principal = principal_dependency(get_verifier)
CurrentUser = Annotated[Principal, Depends(current_principal)]


async def _admin(principal: CurrentUser, session: DbSession) -> Principal:
    # auth-svc's documented exception to `admin_dependency`: the role in its own database,
    # not the one in the token, so a demotion applies at once.
    return await user_service.current_admin(session, principal=principal)


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


def _is_trusted_proxy(address: str | None) -> bool:
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # a dual-stack socket's view
        ip = ip.ipv4_mapped
    return any(ip in network for network in get_settings().trusted_proxies)


def _client(request: Request) -> Client:
    # The gateway overwrites the header with the address it saw, so it cannot be forged
    # from outside; from any other peer (the service called directly) the header is
    # whatever the caller chose, so only the peer address counts.
    peer = _valid_ip(request.client.host if request.client else None)
    header = get_settings().client_ip_header
    forwarded = request.headers.get(header) if header and _is_trusted_proxy(peer) else None
    user_agent = request.headers.get("user-agent")
    if user_agent is not None:
        user_agent = user_agent.replace("\x00", "")[:USER_AGENT_MAX_LENGTH]
    return Client(ip=_valid_ip(forwarded) or peer, user_agent=user_agent or None)


CallerClient = Annotated[Client, Depends(_client)]


login_throttle = LoginThrottle(
    redis,
    account_limit=settings.login_account_max_failures,
    ip_limit=settings.login_ip_max_failures,
    window_seconds=settings.login_failure_window_seconds,
    slowdown_after=settings.login_account_slowdown_after_failures,
    max_delay_seconds=settings.login_account_slowdown_max_seconds,
)
registration_throttle = RegistrationThrottle(
    redis, limit=settings.register_ip_max_attempts, window_seconds=settings.register_window_seconds
)


def _throttle() -> LoginThrottle:
    return login_throttle


Throttle = Annotated[LoginThrottle, Depends(_throttle)]


def _register_throttle() -> RegistrationThrottle:
    return registration_throttle


RegisterThrottle = Annotated[RegistrationThrottle, Depends(_register_throttle)]

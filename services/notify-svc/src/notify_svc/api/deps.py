"""Annotated dependency aliases of notify-svc's routes."""

from __future__ import annotations

import uuid
from typing import Annotated

import httpx
from fastapi import Depends, Header, Security

from notify_svc.core.config import get_settings
from notify_svc.db.session import DbSession
from notify_svc.models import Job
from notify_svc.services import jobs as jobs_service
from taskhub_common.api_keys import ApiKeyLookup, Scope
from taskhub_common.auth import (
    JwksKeySource,
    Principal,
    TokenVerifier,
    principal_dependency,
    require_admin,
)
from taskhub_common.roles import CurrentRoles


class VerifierProvider:
    """The process's token verifier, built on first use; tests set `override`."""

    def __init__(self) -> None:
        self.override: TokenVerifier | None = None
        self._verifier: TokenVerifier | None = None

    def __call__(self) -> TokenVerifier:
        if self.override is not None:
            return self.override
        if self._verifier is None:
            self._verifier = _verifier()
        return self._verifier


class KeyLookupProvider:
    """The process's API key lookup, built on first use; tests set `override`."""

    def __init__(self) -> None:
        self.override: ApiKeyLookup | None = None
        self._lookup: ApiKeyLookup | None = None

    def __call__(self) -> ApiKeyLookup:
        if self.override is not None:
            return self.override
        if self._lookup is None:
            settings = get_settings()
            self._lookup = ApiKeyLookup(
                auth_url=settings.auth_url,
                internal_token=settings.internal_token.get_secret_value(),
                client=_auth_client(),
                ttl_seconds=settings.api_key_cache_seconds,
            )
        return self._lookup


def _auth_client() -> httpx.AsyncClient:
    # trust_env=False: calls to auth-svc must never go through an environment proxy.
    return httpx.AsyncClient(timeout=get_settings().auth_timeout_seconds, trust_env=False)


def _verifier() -> TokenVerifier:
    """Tokens checked against auth-svc's JWKS; admin claims confirmed with auth-svc."""
    settings = get_settings()
    client = _auth_client()
    return TokenVerifier(
        JwksKeySource(
            settings.jwks_url, client=client, max_age_seconds=settings.jwks_max_age_seconds
        ),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        roles=CurrentRoles(
            auth_url=settings.auth_url,
            internal_token=settings.internal_token.get_secret_value(),
            client=client,
            ttl_seconds=settings.admin_role_cache_seconds,
        ),
    )


token_verifier = VerifierProvider()
api_key_lookup = KeyLookupProvider()

current_principal = principal_dependency(token_verifier, api_key_lookup)
CurrentUser = Annotated[Principal, Depends(current_principal)]
# The scope an API key needs for an endpoint (an access token has them all); declared with
# `Security` so the OpenAPI document lists it.
NotifyReader = Annotated[Principal, Security(current_principal, scopes=[Scope.NOTIFY_READ])]
NotifyWriter = Annotated[Principal, Security(current_principal, scopes=[Scope.NOTIFY_WRITE])]


def _admin(principal: CurrentUser) -> Principal:
    return require_admin(principal)


AdminUser = Annotated[Principal, Depends(_admin)]

# Printable ASCII without spaces: the key is stored and compared byte for byte.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retried request return the job the first one created.",
    ),
]


async def valid_job_id(job_id: uuid.UUID, principal: NotifyReader, session: DbSession) -> Job:
    """The job in the path, when the caller may see it (else 404)."""
    return await jobs_service.get_visible_job(session, principal=principal, job_id=job_id)


VisibleJob = Annotated[Job, Depends(valid_job_id)]

__all__ = [
    "AdminUser",
    "CurrentUser",
    "DbSession",
    "IdempotencyKey",
    "NotifyReader",
    "NotifyWriter",
    "VisibleJob",
]

"""Annotated dependency aliases of notify-svc's routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header

from notify_svc.core.config import get_settings
from notify_svc.db.session import DbSession
from notify_svc.models import Job
from notify_svc.services import jobs as jobs_service
from taskhub_common.auth import (
    JwksKeySource,
    Principal,
    TokenVerifier,
    principal_dependency,
    require_admin,
)


class VerifierProvider:
    """The process's token verifier, built on first use; tests set `override`."""

    def __init__(self) -> None:
        self.override: TokenVerifier | None = None
        self._verifier: TokenVerifier | None = None

    def __call__(self) -> TokenVerifier:
        if self.override is not None:
            return self.override
        if self._verifier is None:
            settings = get_settings()
            self._verifier = TokenVerifier(
                JwksKeySource(settings.jwks_url),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )
        return self._verifier


token_verifier = VerifierProvider()

CurrentUser = Annotated[Principal, Depends(principal_dependency(token_verifier))]


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


async def valid_job_id(job_id: uuid.UUID, principal: CurrentUser, session: DbSession) -> Job:
    """The job in the path, when the caller may see it (else 404)."""
    return await jobs_service.get_visible_job(session, principal=principal, job_id=job_id)


VisibleJob = Annotated[Job, Depends(valid_job_id)]

__all__ = ["AdminUser", "CurrentUser", "DbSession", "IdempotencyKey", "VisibleJob"]

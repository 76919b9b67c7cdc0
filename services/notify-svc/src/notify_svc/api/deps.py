"""Annotated dependency aliases of notify-svc's routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Security

from notify_svc.core.config import get_settings
from notify_svc.db.session import DbSession, kit
from notify_svc.models import Job
from notify_svc.services import jobs as jobs_service
from taskhub_common.api_keys import Scope
from taskhub_common.auth import Principal, principal_dependency
from taskhub_common.internal import internal_token_guard
from taskhub_common.service import AuthServiceClients, admin_dependency

auth_service = AuthServiceClients(kit, get_settings())

# Tests replace this dependency (app.dependency_overrides) with one on their own verifier.
current_principal = principal_dependency(auth_service.token_verifier, auth_service.api_key_lookup)
CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_dependency(current_principal))]
# The scope an API key needs for an endpoint (an access token has them all); declared with
# `Security` so the OpenAPI document lists it.
NotifyReader = Annotated[Principal, Security(current_principal, scopes=[Scope.NOTIFY_READ])]
NotifyWriter = Annotated[Principal, Security(current_principal, scopes=[Scope.NOTIFY_WRITE])]

internal_caller = Depends(internal_token_guard(get_settings().internal_token))

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
    "internal_caller",
]

"""Annotated dependency aliases of template-svc's routes: who calls, and with what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from taskhub_common.auth import Principal, principal_dependency
from taskhub_common.service import AuthServiceClients, admin_dependency
from template_svc.core.config import get_settings
from template_svc.db.session import DbSession, kit

__all__ = ["AdminUser", "CurrentUser", "DbSession"]

auth_service = AuthServiceClients(kit, get_settings())

# Access tokens only. To accept API keys too, add the service's scopes to
# taskhub_common.api_keys.Scope and pass `auth_service.api_key_lookup` here.
current_principal = principal_dependency(auth_service.token_verifier)
CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(admin_dependency(current_principal))]

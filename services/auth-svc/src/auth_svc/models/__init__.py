"""ORM models of auth_svc; importing this package registers every table on `Base.metadata`."""

from auth_svc.models.api_key import ApiKey
from auth_svc.models.base import Base
from auth_svc.models.login_audit import LoginAudit
from auth_svc.models.refresh_token import RefreshTokenRecord
from auth_svc.models.user import User

__all__ = ["ApiKey", "Base", "LoginAudit", "RefreshTokenRecord", "User"]

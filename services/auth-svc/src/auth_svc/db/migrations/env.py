"""Alembic environment of auth-svc."""

from auth_svc.core.config import get_settings
from auth_svc.models import Base
from taskhub_common.migrations import run_env

run_env(Base.metadata, get_settings().database_url)

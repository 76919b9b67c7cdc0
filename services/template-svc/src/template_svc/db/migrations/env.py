"""Alembic environment of template-svc."""

from taskhub_common.migrations import run_env
from template_svc.core.config import get_settings
from template_svc.models import Base

run_env(Base.metadata, get_settings().database_url)

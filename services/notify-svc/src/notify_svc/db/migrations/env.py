"""Alembic environment of notify-svc."""

from notify_svc.core.config import get_settings
from notify_svc.models import Base
from taskhub_common.migrations import run_env

run_env(Base.metadata, get_settings().database_url)

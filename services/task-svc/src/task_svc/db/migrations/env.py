"""Alembic environment of task-svc."""

from task_svc.core.config import get_settings
from task_svc.models import Base
from taskhub_common.migrations import run_env

run_env(Base.metadata, get_settings().database_url)

"""The hand-written migrations build exactly the schema the models describe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command

from auth_svc.core.config import get_settings
from taskhub_common.migrations import alembic_config

pytestmark = pytest.mark.integration

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


async def test_models_and_migrations_agree(migrated: None) -> None:
    config = alembic_config(ALEMBIC_INI, get_settings().database_url)
    # Raises when autogenerate would find any difference between models and database.
    await asyncio.to_thread(command.check, config)

"""The hand-written migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from task_svc.core.config import get_settings
from taskhub_common.testing import check_models_match_migrations

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


async def test_models_and_migrations_agree(migrated: None) -> None:
    await check_models_match_migrations(ALEMBIC_INI, get_settings().database_url)

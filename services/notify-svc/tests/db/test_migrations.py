"""The hand-written migrations build exactly the schema the models describe."""

from __future__ import annotations

import os
from pathlib import Path

from taskhub_common.testing import check_models_match_migrations

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


async def test_models_and_migrations_agree(migrated: None) -> None:
    await check_models_match_migrations(ALEMBIC_INI, os.environ["NOTIFY_DATABASE_URL"])

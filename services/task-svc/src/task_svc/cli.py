"""Command line of task-svc: `taskhub-tasks migrate` (see `--help`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from task_svc.core.config import get_settings
from taskhub_common.cli import run_migrations_cli

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def main(argv: Sequence[str] | None = None) -> int:
    return run_migrations_cli(
        argv,
        prog="taskhub-tasks",
        service="TaskHub task-svc",
        alembic_ini=ALEMBIC_INI,
        database_url=get_settings().database_url,
    )


if __name__ == "__main__":
    raise SystemExit(main())

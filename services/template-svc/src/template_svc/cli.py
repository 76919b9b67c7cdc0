"""Command line of template-svc: `taskhub-template migrate` (see `--help`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from taskhub_common.cli import run_migrations_cli
from template_svc.core.config import get_settings

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def main(argv: Sequence[str] | None = None) -> int:
    return run_migrations_cli(
        argv,
        prog="taskhub-template",
        service="TaskHub template-svc",
        alembic_ini=ALEMBIC_INI,
        database_url=get_settings().database_url,
    )


if __name__ == "__main__":
    raise SystemExit(main())

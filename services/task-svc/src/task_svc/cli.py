"""Command line of task-svc: `taskhub-task` ... (see `--help`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from task_svc.core.config import get_settings
from taskhub_common.migrations import upgrade_to_head

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="taskhub-tasks", description="TaskHub task-svc management commands."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply every database migration (alembic upgrade head)")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        upgrade_to_head(ALEMBIC_INI, get_settings().database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

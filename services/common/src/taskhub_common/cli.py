"""The command line every service shares: `taskhub-<svc> migrate`, plus its own commands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from taskhub_common.migrations import upgrade_to_head


def service_parser(
    prog: str, service: str
) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    """A parser with the `migrate` command; add the service's own commands to the second."""
    parser = argparse.ArgumentParser(prog=prog, description=f"{service} management commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply every database migration (alembic upgrade head)")
    return parser, commands


def run_migrations_cli(
    argv: Sequence[str] | None, *, prog: str, service: str, alembic_ini: Path, database_url: str
) -> int:
    """The whole `main` of a service whose only command is `migrate`."""
    parser, _ = service_parser(prog, service)
    parser.parse_args(argv)
    upgrade_to_head(alembic_ini, database_url)
    return 0

"""Command line of auth-svc: `taskhub-auth migrate | create-admin` (see `--help`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from auth_svc.core.config import get_settings
from auth_svc.schemas.auth import Email, Name, Password
from taskhub_common.cli import service_parser
from taskhub_common.db import Database
from taskhub_common.migrations import upgrade_to_head

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _parser() -> argparse.ArgumentParser:
    parser, commands = service_parser("taskhub-auth", "TaskHub auth-svc")
    create_admin = commands.add_parser(
        "create-admin",
        help="create an admin account, or promote an existing one (its password is kept)",
        description="The password is read from standard input (prompted on a terminal) or "
        "from the environment variable named by --password-env; never from the command line.",
    )
    create_admin.add_argument("--email", required=True)
    create_admin.add_argument("--name", default="Administrator")
    create_admin.add_argument(
        "--password-env", metavar="VAR", help="read the password from this environment variable"
    )
    return parser


def _read_password(password_env: str | None) -> str:
    if password_env is not None:
        if password_env not in os.environ:
            raise SystemExit(f"taskhub-auth: environment variable {password_env} is not set")
        return os.environ[password_env]
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


async def _create_admin(email: str, name: str, password: str) -> str:
    # Imported here: the services prepare argon2 at import, which `migrate` need not pay.
    from auth_svc.services.users import ensure_admin

    # A small engine of its own: the command runs once, on its own event loop.
    database = Database(get_settings().database_url, pool_size=1)
    try:
        async with database.transaction() as session:
            user = await ensure_admin(session, email=email, name=name, password=password)
    finally:
        await database.dispose()
    return str(user.id)


def create_admin(email: str, name: str, password_env: str | None) -> int:
    password = _read_password(password_env)
    try:
        email = TypeAdapter(Email).validate_python(email)
        name = TypeAdapter(Name).validate_python(name)
        TypeAdapter(Password).validate_python(password)
    except ValidationError as exc:
        fields = ", ".join(str(error["msg"]) for error in exc.errors())
        print(f"taskhub-auth: invalid input: {fields}", file=sys.stderr)
        return 2
    user_id = asyncio.run(_create_admin(email, name, password))
    print(f"admin account ready: {user_id}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "migrate":
        upgrade_to_head(ALEMBIC_INI, get_settings().database_url)
        return 0
    return create_admin(args.email, args.name, args.password_env)


if __name__ == "__main__":
    raise SystemExit(main())

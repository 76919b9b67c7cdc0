"""Backups of TaskHub's databases with pg_dump, and the restore of one database from a dump.

`taskhub-backup` writes one custom-format dump per service database into `backups/` (or
`--dir`), named `<database>-<UTC timestamp>.dump`. `taskhub-restore FILE` brings the
database named inside the dump back to that state (`pg_restore --clean --if-exists`, in
one transaction). Both connect as each service's own role, read from the services'
`*_DATABASE_URL` variables when they are set (compose, production), else from the native
stack of this checkout. Passwords travel in the environment, never on a command line.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Service -> the variable holding its database URL (docs/conventions.md).
DATABASE_URL_VARIABLES = {
    "auth": "AUTH_DATABASE_URL",
    "tasks": "TASKS_DATABASE_URL",
    "notify": "NOTIFY_DATABASE_URL",
}
DEFAULT_BACKUP_DIR = Path("backups")
DUMP_SUFFIX = ".dump"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# `pg_restore --list` names the dumped database in its header.
_DBNAME_LINE = re.compile(r"^;\s+dbname:\s+(?P<name>\S+)\s*$", re.MULTILINE)


class BackupError(RuntimeError):
    """A dump or restore failed, or its inputs are wrong; the message says which."""


@dataclass(frozen=True)
class Database:
    """Where one database lives and the role that owns it."""

    name: str
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> Database:
        """From a SQLAlchemy URL such as `postgresql+asyncpg://user:pass@host:port/db`."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgresql") or not parts.path.strip("/"):
            raise BackupError("not a PostgreSQL database URL (postgresql://user:pass@host/db)")
        return cls(
            name=unquote(parts.path.strip("/")),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )

    def connection_args(self) -> list[str]:
        return [
            f"--host={self.host}",
            f"--port={self.port}",
            f"--username={self.user}",
            f"--dbname={self.name}",
        ]

    def environment(self) -> dict[str, str]:
        """The process environment for libpq tools: the password, and no prompt for one."""
        return os.environ | {"PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"}


def pg_bindir() -> Path | None:
    """The folder of pg_dump/pg_restore (`pg_config --bindir`), or None to use PATH."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    folder = Path(result.stdout.strip())
    return folder if result.returncode == 0 and folder.is_dir() else None


def pg_tool(name: str) -> str:
    folder = pg_bindir()
    if folder is not None and (folder / name).exists():
        return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL client tools)")
    return found


def service_databases(environ: Mapping[str, str] | None = None) -> dict[str, Database]:
    """Each service's database: from `*_DATABASE_URL`, else the native stack's environment."""
    environ = os.environ if environ is None else environ
    urls = {service: environ.get(variable) for service, variable in DATABASE_URL_VARIABLES.items()}
    if not all(urls.values()):
        from taskhub_stack.native import NativeStack

        stack_env = NativeStack(environ=environ).env()
        urls = {
            service: urls[service] or stack_env[variable]
            for service, variable in DATABASE_URL_VARIABLES.items()
        }
    return {service: Database.from_url(str(url)) for service, url in urls.items()}


def dump_path(folder: Path, database: str, when: float | None = None) -> Path:
    stamp = time.strftime(TIMESTAMP_FORMAT, time.gmtime(time.time() if when is None else when))
    return folder / f"{database}-{stamp}{DUMP_SUFFIX}"


def _run(argv: Sequence[str], database: Database, what: str) -> str:
    result = subprocess.run(
        list(argv), env=database.environment(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}):\n{result.stderr.strip()}")
    return result.stdout


def backup_database(database: Database, folder: Path = DEFAULT_BACKUP_DIR) -> Path:
    """Dump one database in pg_dump's custom format; returns the new file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = dump_path(folder, database.name)
    partial = target.with_suffix(".partial")
    _run(
        [pg_tool("pg_dump"), "--format=custom", f"--file={partial}", *database.connection_args()],
        database,
        f"pg_dump of {database.name}",
    )
    # Only a complete dump gets its final name, so a crash never leaves a usable-looking file.
    partial.rename(target)
    target.chmod(0o600)
    return target


def backup(
    databases: Mapping[str, Database] | None = None, folder: Path = DEFAULT_BACKUP_DIR
) -> list[Path]:
    """Dump every service database (or those given) into `folder`."""
    chosen = service_databases() if databases is None else databases
    return [backup_database(database, folder) for database in chosen.values()]


def dumped_database_name(dump: Path) -> str:
    """The name of the database a dump was taken from, read from the dump itself."""
    if not dump.is_file():
        raise BackupError(f"no dump at {dump}")
    listing = subprocess.run(
        [pg_tool("pg_restore"), "--list", str(dump)], capture_output=True, text=True, check=False
    )
    match = _DBNAME_LINE.search(listing.stdout)
    if listing.returncode != 0 or match is None:
        raise BackupError(f"{dump} is not a pg_dump custom-format file")
    return match.group("name")


def restore(dump: Path, database: Database | None = None) -> Database:
    """Bring a database back to the state in `dump`; by default the one it was taken from.

    Objects in the dump are dropped and recreated (`--clean --if-exists`) in one
    transaction, so a failed restore leaves the database as it was.
    """
    if database is None:
        name = dumped_database_name(dump)
        matches = [db for db in service_databases().values() if db.name == name]
        if not matches:
            raise BackupError(f"{dump} holds {name}, which is no TaskHub service database")
        database = matches[0]
    _run(
        [
            pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            *database.connection_args(),
            str(dump),
        ],
        database,
        f"pg_restore into {database.name}",
    )
    return database


# --- command line ------------------------------------------------------------------------


def backup_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="taskhub-backup", description="Dump every TaskHub database (pg_dump, custom format)."
    )
    parser.add_argument("--dir", type=Path, default=DEFAULT_BACKUP_DIR, help="default: backups/")
    parser.add_argument(
        "--service", action="append", choices=sorted(DATABASE_URL_VARIABLES), help="repeatable"
    )
    args = parser.parse_args(argv)
    try:
        databases = service_databases()
        if args.service:
            databases = {name: databases[name] for name in args.service}
        for path in backup(databases, args.dir):
            print(path)
    except (BackupError, OSError) as error:
        print(f"taskhub-backup: {error}", file=sys.stderr)
        return 1
    return 0


def restore_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="taskhub-restore",
        description="Restore one TaskHub database from a dump made by taskhub-backup.",
    )
    parser.add_argument("dump", type=Path)
    parser.add_argument(
        "--database-url",
        default=None,
        help="restore into this database instead of the one the dump was taken from",
    )
    args = parser.parse_args(argv)
    try:
        target = Database.from_url(args.database_url) if args.database_url else None
        restored = restore(args.dump, target)
    except (BackupError, OSError) as error:
        print(f"taskhub-restore: {error}", file=sys.stderr)
        return 1
    print(f"restored {restored.name} from {args.dump}")
    return 0

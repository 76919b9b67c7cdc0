"""Backups and restores against the native stack's PostgreSQL, in a scratch database.

The scratch database belongs to task-svc's role (as a service database belongs to its
role), so the dump and the restore run with exactly the rights they have in production.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskhub_stack.backup import (
    BackupError,
    Database,
    backup,
    backup_main,
    dump_path,
    dumped_database_name,
    pg_tool,
    restore,
    restore_main,
    service_databases,
)
from taskhub_stack.layout import choose_pg_location, pg_run_as
from taskhub_stack.native import NativeStack
from taskhub_stack.postgres import PostgresCluster
from taskhub_stack.prereqs import find_system_programs

OWNER_ROLE = "TASKS"


def test_database_urls_are_read_like_the_services_read_them() -> None:
    database = Database.from_url("postgresql+asyncpg://taskhub_auth:p%40ss@db.internal:6543/auth")
    assert database == Database("auth", "db.internal", 6543, "taskhub_auth", "p@ss")
    assert "p@ss" not in " ".join(database.connection_args())
    with pytest.raises(BackupError):
        Database.from_url("redis://127.0.0.1:6379/0")


def test_service_urls_from_the_environment_win() -> None:
    environ = {
        "AUTH_DATABASE_URL": "postgresql://a:x@h:1/auth_db",
        "TASKS_DATABASE_URL": "postgresql://t:x@h:1/tasks_db",
        "NOTIFY_DATABASE_URL": "postgresql://n:x@h:1/notify_db",
    }
    names = {service: db.name for service, db in service_databases(environ).items()}
    assert names == {"auth": "auth_db", "tasks": "tasks_db", "notify": "notify_db"}


def test_dump_names_carry_the_database_and_a_utc_timestamp(tmp_path: Path) -> None:
    assert dump_path(tmp_path, "taskhub_auth", when=0).name == "taskhub_auth-19700101T000000Z.dump"


def test_a_file_that_is_no_dump_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.dump"
    bogus.write_text("not a dump")
    with pytest.raises(BackupError, match="not a pg_dump"):
        dumped_database_name(bogus)
    assert restore_main([str(tmp_path / "missing.dump")]) == 1


# --- against the stack's PostgreSQL ------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> NativeStack:
    try:
        stack = NativeStack()
    except FileNotFoundError:
        pytest.skip("not inside a TaskHub checkout")
    if not stack.is_running():
        pytest.skip("the native stack is not running (`taskhub-stack up --infra-only`)")
    return stack


@pytest.fixture(scope="module")
def cluster(stack: NativeStack) -> PostgresCluster:
    location = choose_pg_location(stack.layout.stack_dir, pg_run_as(), environ=os.environ)
    cluster = PostgresCluster(
        find_system_programs().pg_bindir, location, stack.ports.pg, pg_run_as()
    )
    if not cluster.is_ready():
        pytest.skip("the stack's PostgreSQL does not accept connections")
    return cluster


@pytest.fixture
def scratch(stack: NativeStack, cluster: PostgresCluster) -> Iterator[Database]:
    """A new database owned by task-svc's role, dropped afterwards."""
    owner = Database.from_url(stack.env()[f"{OWNER_ROLE}_DATABASE_URL"])
    name = f"taskhub_backup_test_{secrets.token_hex(4)}"
    cluster.psql(f"CREATE DATABASE {name} OWNER {owner.user};")
    try:
        yield Database(name, owner.host, owner.port, owner.user, owner.password)
    finally:
        cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


def sql(database: Database, statement: str) -> str:
    """Run one statement as the database's owner; the rows as `a|b` lines."""
    result = subprocess.run(
        [
            pg_tool("psql"),
            *database.connection_args(),
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "--set=ON_ERROR_STOP=1",
            f"--command={statement}",
        ],
        env=database.environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_backup_then_restore_brings_deleted_data_back(scratch: Database, tmp_path: Path) -> None:
    sql(scratch, "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
    sql(scratch, "INSERT INTO notes VALUES (1, 'keep me'), (2, 'me too')")

    [dump] = backup({"scratch": scratch}, tmp_path)
    assert dump.name.startswith(f"{scratch.name}-")
    assert dump.suffix == ".dump"
    assert dump.stat().st_mode & 0o077 == 0, "a dump holds personal data: owner-only"
    assert dumped_database_name(dump) == scratch.name

    sql(scratch, "DELETE FROM notes WHERE id = 2")
    sql(scratch, "INSERT INTO notes VALUES (3, 'written after the backup')")
    sql(scratch, "CREATE TABLE junk (x int)")
    assert sql(scratch, "SELECT count(*) FROM notes") == "2"

    restore(dump, scratch)

    assert sql(scratch, "SELECT id, body FROM notes ORDER BY id") == "1|keep me\n2|me too"
    # Objects the dump knows are recreated; what came later is not the dump's to remove.
    assert sql(scratch, "SELECT to_regclass('junk') IS NOT NULL") == "t"


def test_restore_after_the_whole_table_is_dropped(scratch: Database, tmp_path: Path) -> None:
    sql(scratch, "CREATE TABLE notes (id int PRIMARY KEY)")
    sql(scratch, "INSERT INTO notes SELECT generate_series(1, 500)")
    [dump] = backup({"scratch": scratch}, tmp_path)
    sql(scratch, "DROP TABLE notes")
    restore(dump, scratch)
    assert sql(scratch, "SELECT count(*), max(id) FROM notes") == "500|500"


def test_the_command_line_backs_up_and_restores(
    scratch: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack: NativeStack
) -> None:
    sql(scratch, "CREATE TABLE notes (id int PRIMARY KEY)")
    sql(scratch, "INSERT INTO notes VALUES (7)")
    env = stack.env()
    url = (
        f"postgresql://{scratch.user}:{scratch.password}@{scratch.host}:{scratch.port}/"
        f"{scratch.name}"
    )
    # The CLI reads the services' variables: point task-svc's at the scratch database.
    monkeypatch.setenv("AUTH_DATABASE_URL", env["AUTH_DATABASE_URL"])
    monkeypatch.setenv("NOTIFY_DATABASE_URL", env["NOTIFY_DATABASE_URL"])
    monkeypatch.setenv("TASKS_DATABASE_URL", url)
    assert backup_main(["--dir", str(tmp_path), "--service", "tasks"]) == 0
    [dump] = list(tmp_path.glob("*.dump"))
    sql(scratch, "DELETE FROM notes")
    assert restore_main([str(dump)]) == 0
    assert sql(scratch, "SELECT id FROM notes") == "7"

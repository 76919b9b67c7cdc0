"""The stack's PostgreSQL cluster: initdb on first run, then one role + database per service."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from taskhub_stack.credentials import (
    MONITOR_DB_PASSWORD,
    SERVICE_DATABASES,
    TEST_SUFFIX,
    password_key,
)
from taskhub_stack.layout import PgLocation

# Appended to postgresql.conf by initdb time; the port and socket dir come on the command line.
CLUSTER_SETTINGS = """
# --- TaskHub native stack ---
listen_addresses = '127.0.0.1'
# Three services with pools, the workers and a parallel test session.
max_connections = 200
password_encryption = scram-sha-256
"""


# The server's log holds no values from the data (e-mail addresses, task titles): given on
# the command line, they apply to clusters created before them too. Compose's databases
# get the same (docker-compose.yml's x-postgres).
LOG_SETTINGS = {
    # No DETAIL lines such as "Key (email)=(a@b.example) already exists".
    "log_error_verbosity": "terse",
    # No STATEMENT line after an error: a statement's text may carry literal values.
    "log_min_error_statement": "panic",
    "log_statement": "none",
    "log_min_duration_statement": "-1",
    # No bound parameter values, with or without an error.
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
}


def log_options() -> str:
    """LOG_SETTINGS as `postgres` command-line options."""
    return " ".join(f"-c {name}={value}" for name, value in LOG_SETTINGS.items())


# Chosen for TaskHub's workload: many short transactions (a change is a lock, one write and
# a commit), lists of small pages, three small databases (docs/operations.md, "PostgreSQL
# settings"). Durability stays as it is: fsync, full_page_writes and synchronous_commit keep
# their defaults; every commit is on disk before a client hears of it.
WORKLOAD_SETTINGS = {
    # The three databases fit in memory whole: reads never wait for the disk.
    "shared_buffers": "256MB",
    # Index lookups cost about what sequential reads cost when the data is cached.
    "random_page_cost": "1.1",
    # JIT compiles the rare statement that looks expensive (an admin's list of every task)
    # for tens of milliseconds, more than it would save on these small tables.
    "jit": "off",
    # Fewer checkpoints: fewer full-page images in the WAL of the update-heavy tables.
    "checkpoint_timeout": "15min",
    "max_wal_size": "2GB",
    # The hot rows (list versions, tasks changing status) leave dead versions quickly:
    # vacuum them sooner, and keep the planner's statistics fresh as tasks pile up.
    "autovacuum_naptime": "10s",
    "autovacuum_vacuum_scale_factor": "0.05",
    "autovacuum_analyze_scale_factor": "0.05",
}


def server_options() -> str:
    """Every `postgres` command-line option of the stack: LOG_SETTINGS, WORKLOAD_SETTINGS
    and STATISTICS_SETTINGS."""
    workload = " ".join(f"-c {name}={value}" for name, value in WORKLOAD_SETTINGS.items())
    return f"{log_options()} {workload} {statistics_options()}"


# --- Query statistics and the monitoring role (docs/observability.md) ---
# pg_stat_statements must be preloaded; given on the command line like LOG_SETTINGS, so
# clusters created before it get it too. Compose's databases get the same (x-postgres).
STATISTICS_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "pg_stat_statements.max": "5000",
}
# The postgres exporter's role: reads statistics (pg_monitor), owns and writes nothing.
MONITOR_ROLE = "taskhub_monitor"
# The extension is created where statements are counted (every service database, its
# `_test` twin) and in `postgres`, the database the exporter reads the view from.
STATISTICS_DATABASES = (
    "postgres",
    *(db + suffix for db in SERVICE_DATABASES.values() for suffix in ("", TEST_SUFFIX)),
)


def statistics_options() -> str:
    """STATISTICS_SETTINGS as `postgres` command-line options."""
    return " ".join(f"-c {name}={value}" for name, value in STATISTICS_SETTINGS.items())


def monitoring_sql(credentials: dict[str, str]) -> str:
    """psql script: the monitoring role and pg_stat_statements in every database, idempotent."""
    role = MONITOR_ROLE
    lines = [
        f"SELECT 'CREATE ROLE {role} LOGIN' WHERE NOT EXISTS "  # noqa: S608
        f"(SELECT FROM pg_roles WHERE rolname = '{role}') \\gexec",
        f"ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
        f"PASSWORD {sql_literal(credentials[MONITOR_DB_PASSWORD])};",
        f"GRANT pg_monitor TO {role};",
    ]
    for database in STATISTICS_DATABASES:
        lines += [
            f"\\connect {database}",
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
        ]
    return "\n".join(lines) + "\n"


# Alembic's bookkeeping table, read without failing when no migration has run yet.
APPLIED_REVISIONS_SQL = """
SELECT to_regclass('public.alembic_version') IS NOT NULL AS present \\gset
\\if :present
SELECT version_num FROM alembic_version;
\\endif
"""


class PostgresError(RuntimeError):
    """initdb, the server or a bootstrap statement failed."""


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def bootstrap_sql(credentials: dict[str, str]) -> str:
    """psql script creating the missing roles and databases (and the `_test` ones), idempotent.

    Passwords are (re)set every time, so `.stack/credentials` stays the truth. Role and
    database names are this module's constants, never input, hence the f-strings.
    """
    lines = []
    for prefix, role in SERVICE_DATABASES.items():
        lines += [
            f"SELECT 'CREATE ROLE {role} LOGIN' WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT FROM pg_roles WHERE rolname = '{role}') \\gexec",
            f"ALTER ROLE {role} LOGIN PASSWORD {sql_literal(credentials[password_key(prefix)])};",
        ]
        for database in (role, role + TEST_SUFFIX):
            lines += [
                f"SELECT 'CREATE DATABASE {database} OWNER {role}' WHERE NOT EXISTS "  # noqa: S608
                f"(SELECT FROM pg_database WHERE datname = '{database}') \\gexec",
                # Each service reaches its own databases only.
                f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC;",
            ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PostgresCluster:
    bindir: Path
    location: PgLocation
    port: int
    # The OS user the server runs as (and whose name is the bootstrap superuser).
    run_as: str

    def as_owner(self, argv: Sequence[str]) -> list[str]:
        """`argv` run as the cluster's OS user (via runuser when we are root)."""
        if os.geteuid() == 0 and self.run_as != "root":
            return ["runuser", "-u", self.run_as, "--", *argv]
        return list(argv)

    def is_initialised(self) -> bool:
        return (self.location.data_dir / "PG_VERSION").exists()

    def prepare_dirs(self) -> None:
        """Create the data and socket dirs, owned by the cluster's user."""
        owner = pwd.getpwnam(self.run_as)
        for folder in (self.location.data_dir, self.location.socket_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            if os.geteuid() == 0:
                os.chown(folder, owner.pw_uid, owner.pw_gid)
            folder.chmod(0o700)

    def initdb(self) -> None:
        self.prepare_dirs()
        initdb = [
            str(self.bindir / "initdb"),
            "--pgdata",
            str(self.location.data_dir),
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            # Local socket: only the cluster's own OS user (peer); TCP: passwords (SCRAM).
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
            "--no-instructions",
        ]
        result = subprocess.run(self.as_owner(initdb), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")
        conf = self.location.data_dir / "postgresql.conf"
        with conf.open("a") as file:
            file.write(CLUSTER_SETTINGS)

    def is_ready(self) -> bool:
        probe = [
            str(self.bindir / "pg_isready"),
            "--quiet",
            f"--host={self.location.socket_dir}",
            f"--port={self.port}",
        ]
        return subprocess.run(probe, check=False).returncode == 0

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise PostgresError(f"PostgreSQL did not accept connections within {timeout:.0f} s")
            time.sleep(0.05)

    def psql(self, script: str, database: str = "postgres", *, tuples_only: bool = False) -> str:
        """Run `script` as the bootstrap superuser over the Unix socket.

        The script goes through stdin, which keeps the passwords in it out of `ps`.
        """
        argv = [
            str(self.bindir / "psql"),
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            f"--host={self.location.socket_dir}",
            f"--port={self.port}",
            f"--username={self.run_as}",
            f"--dbname={database}",
            *(["--tuples-only", "--no-align"] if tuples_only else []),
        ]
        result = subprocess.run(
            self.as_owner(argv), input=script, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise PostgresError(f"psql failed:\n{result.stderr}")
        return result.stdout

    def ensure_databases(self, credentials: dict[str, str]) -> None:
        self.psql(bootstrap_sql(credentials) + monitoring_sql(credentials))

    def applied_revisions(self, database: str) -> frozenset[str] | None:
        """The Alembic revisions `database` is at (empty before the first migration)."""
        try:
            rows = self.psql(APPLIED_REVISIONS_SQL, database, tuples_only=True)
        except PostgresError:
            return None
        return frozenset(line for line in rows.splitlines() if line)

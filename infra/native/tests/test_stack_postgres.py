"""The cluster bootstrap on a throwaway PostgreSQL: roles, databases, SCRAM logins, isolation."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskhub_stack.layout import PgLocation, pg_run_as
from taskhub_stack.postgres import (
    MONITOR_ROLE,
    STATISTICS_DATABASES,
    PostgresCluster,
    bootstrap_sql,
    statistics_options,
)
from taskhub_stack.prereqs import pg_bindir

CREDENTIALS = {
    "AUTH_DB_PASSWORD": "auth-secret",
    "TASKS_DB_PASSWORD": "tasks-secret",
    "NOTIFY_DB_PASSWORD": "notify-secret",
    "INTERNAL_TOKEN": "tok",
    "MONITOR_DB_PASSWORD": "monitor-secret",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    bindir = pg_bindir()
    assert bindir is not None, "PostgreSQL is a required system package"
    # Under /tmp with o+x, so the `postgres` user can reach it when we are root.
    with tempfile.TemporaryDirectory(prefix="taskhub-pg-") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - the server's user must traverse it
        location = PgLocation(Path(folder) / "data", Path(folder) / "socket")
        pg = PostgresCluster(bindir, location, free_port(), pg_run_as())
        pg.initdb()
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(location.data_dir),
            "-p",
            str(pg.port),
            "-k",
            str(location.socket_dir),
            *statistics_options().split(),
        ]
        # Dropped to the cluster's user directly (as supervisord does): runuser would not
        # pass our SIGINT on to the server.
        server = subprocess.Popen(
            argv, user=pg.run_as if os.geteuid() == 0 else None, stderr=subprocess.DEVNULL
        )
        try:
            pg.wait_ready(30)
            yield pg
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)


def psql_as(cluster: PostgresCluster, role: str, password: str, database: str) -> int:
    result = subprocess.run(
        [
            str(cluster.bindir / "psql"),
            f"postgresql://{role}@127.0.0.1:{cluster.port}/{database}",
            "-c",
            "CREATE TABLE IF NOT EXISTS probe (id int)",
        ],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        check=False,
    )
    return result.returncode


def test_bootstrap_is_idempotent_and_each_role_owns_its_databases(
    cluster: PostgresCluster,
) -> None:
    cluster.ensure_databases(CREDENTIALS)
    cluster.ensure_databases(CREDENTIALS)

    assert psql_as(cluster, "taskhub_auth", "auth-secret", "taskhub_auth") == 0
    assert psql_as(cluster, "taskhub_auth", "auth-secret", "taskhub_auth_test") == 0
    assert psql_as(cluster, "taskhub_notify", "notify-secret", "taskhub_notify_test") == 0
    # Over TCP a password is required, and a role cannot enter another service's database.
    assert psql_as(cluster, "taskhub_auth", "wrong", "taskhub_auth") != 0
    assert psql_as(cluster, "taskhub_auth", "auth-secret", "taskhub_tasks") != 0


def psql_rows(cluster: PostgresCluster, password: str, sql: str) -> str:
    """`sql` run by the monitoring role over TCP, as postgres-exporter does."""
    result = subprocess.run(
        [
            str(cluster.bindir / "psql"),
            f"postgresql://{MONITOR_ROLE}@127.0.0.1:{cluster.port}/postgres",
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "-c",
            sql,
        ],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_monitoring_role_reads_statement_statistics_and_writes_nothing(
    cluster: PostgresCluster,
) -> None:
    cluster.ensure_databases(CREDENTIALS)
    cluster.psql("SELECT count(*) FROM pg_class;", "taskhub_tasks")

    counted = psql_rows(
        cluster,
        "monitor-secret",
        "SELECT count(*) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
        " WHERE d.datname = 'taskhub_tasks' AND s.query LIKE '%pg_class%'",
    )
    assert int(counted) >= 1
    installed = cluster.psql(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements';",
        "taskhub_notify_test",
        tuples_only=True,
    )
    assert installed.strip() == "1"
    assert len(STATISTICS_DATABASES) == 7
    # Least privilege: it reads statistics, and cannot enter a service database at all.
    assert psql_as(cluster, MONITOR_ROLE, "monitor-secret", "postgres") != 0
    assert psql_as(cluster, MONITOR_ROLE, "monitor-secret", "taskhub_tasks") != 0


def test_a_changed_password_is_applied(cluster: PostgresCluster) -> None:
    cluster.ensure_databases({**CREDENTIALS, "TASKS_DB_PASSWORD": "rotated"})

    assert psql_as(cluster, "taskhub_tasks", "rotated", "taskhub_tasks") == 0
    assert psql_as(cluster, "taskhub_tasks", "tasks-secret", "taskhub_tasks") != 0


def test_applied_revisions(cluster: PostgresCluster) -> None:
    cluster.ensure_databases(CREDENTIALS)

    assert cluster.applied_revisions("taskhub_notify") == frozenset()
    cluster.psql(
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
        "INSERT INTO alembic_version VALUES ('abc123');",
        "taskhub_notify",
    )
    assert cluster.applied_revisions("taskhub_notify") == frozenset({"abc123"})
    assert cluster.applied_revisions("no_such_database") is None


def test_bootstrap_sql_names_every_database() -> None:
    script = bootstrap_sql(CREDENTIALS)

    for database in ("taskhub_auth", "taskhub_tasks_test", "taskhub_notify"):
        assert f"CREATE DATABASE {database} OWNER" in script
    assert "PASSWORD 'auth-secret'" in script


def test_compose_bootstrap_script_gives_the_same_statistics_and_role(
    cluster: PostgresCluster,
) -> None:
    """infra/postgres/init-monitoring.sh, as the postgres image runs it on a new volume."""
    script = Path(__file__).resolve().parents[3] / "infra/postgres/init-monitoring.sh"
    cluster.psql(f"DROP ROLE IF EXISTS {MONITOR_ROLE};")
    cluster.psql(
        "SELECT 'CREATE DATABASE compose_probe' WHERE NOT EXISTS "
        "(SELECT FROM pg_database WHERE datname = 'compose_probe') \\gexec"
    )
    env = {
        "PATH": f"{cluster.bindir}:{os.environ['PATH']}",
        "POSTGRES_USER": cluster.run_as,
        "POSTGRES_DB": "compose_probe",
        "PGHOST": str(cluster.location.socket_dir),
        "PGPORT": str(cluster.port),
        "MONITOR_DB_PASSWORD": "compose-monitor-secret",
    }
    # Through stdin: the cluster's OS user may not reach the checkout.
    argv = cluster.as_owner(["env", *(f"{k}={v}" for k, v in env.items()), "sh", "-s"])
    result = subprocess.run(
        argv, input=script.read_text(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr

    installed = cluster.psql(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements';",
        "compose_probe",
        tuples_only=True,
    )
    assert installed.strip() == "1"
    readable = psql_rows(
        cluster, "compose-monitor-secret", "SELECT count(*) > 0 FROM pg_stat_statements"
    )
    assert readable == "t"
    assert psql_as(cluster, MONITOR_ROLE, "compose-monitor-secret", "postgres") != 0

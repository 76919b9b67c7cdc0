"""Database plumbing and Alembic glue, on the real PostgreSQL of the test stack."""

from __future__ import annotations

import asyncio
import textwrap
import traceback
import uuid
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from taskhub_common.db import Database
from taskhub_common.testing import migrate, rollback_session

pytestmark = pytest.mark.integration


async def _insert_then_fail(database: Database, table: str) -> None:
    async def work() -> None:
        async with database.transaction() as session:
            await session.execute(text(f"INSERT INTO {table} VALUES (2)"))
            raise RuntimeError("roll me back")

    with pytest.raises(RuntimeError):
        await work()


async def test_ping_and_transaction_commit(database_url: str) -> None:
    database = Database(database_url, pool_size=1)
    table = f"common_test_{uuid.uuid4().hex[:8]}"
    try:
        await database.ping()
        async with database.transaction() as session:
            await session.execute(text(f"CREATE TABLE {table} (n int)"))
            await session.execute(text(f"INSERT INTO {table} VALUES (1)"))
        await _insert_then_fail(database, table)
        async for session in database.session():
            rows = (await session.execute(text(f"SELECT n FROM {table}"))).scalars().all()
        assert rows == [1]
    finally:
        async with database.transaction() as session:
            await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await database.dispose()


@pytest.mark.parametrize("ping", ["server", "local"])
async def test_a_connection_the_server_closed_is_replaced_before_use(
    database_url: str, ping: Literal["server", "local"]
) -> None:
    database = Database(database_url, pool_size=1, ping=ping)
    other = Database(database_url, pool_size=1)
    try:
        async with database.transaction() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with other.transaction() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.2)  # the server's close reaches the pooled connection
        async with database.transaction() as session:
            new_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert new_pid != pid
    finally:
        await database.dispose()
        await other.dispose()


async def test_rollback_session_undoes_even_committed_work(database_url: str) -> None:
    database = Database(database_url, pool_size=1)
    table = f"common_test_{uuid.uuid4().hex[:8]}"
    try:
        async with rollback_session(database.engine) as session:
            await session.execute(text(f"CREATE TABLE {table} (n int)"))
            await session.commit()
        async with database.engine.connect() as connection:
            exists = await connection.scalar(text(f"SELECT to_regclass('{table}') IS NOT NULL"))
        assert exists is False
    finally:
        await database.dispose()


def _write_migration_project(root: Path, table: str, *, seconds: float = 0) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "migrations" / "env.py").write_text(
        textwrap.dedent(
            """
            from sqlalchemy import MetaData
            from taskhub_common.migrations import run_env

            run_env(MetaData(), "postgresql+asyncpg://unused/unused")
            """
        )
    )
    (versions / "0001_first.py").write_text(
        textwrap.dedent(
            f"""
            from alembic import op
            import sqlalchemy as sa

            revision = "0001"
            down_revision = None

            def upgrade() -> None:
                op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))
                op.execute("SELECT pg_sleep({seconds})")

            def downgrade() -> None:
                op.drop_table("{table}")
            """
        )
    )
    ini = root / "alembic.ini"
    ini.write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n"
        f"version_table = alembic_version_{table}\n"
    )
    return ini


async def test_migrate_applies_every_revision(database_url: str, tmp_path: Path) -> None:
    table = f"common_migrated_{uuid.uuid4().hex[:8]}"
    ini = _write_migration_project(tmp_path, table)
    database = Database(database_url, pool_size=1)
    try:
        await migrate(ini, database_url)
        await migrate(ini, database_url)  # idempotent: already at head
        async with database.engine.connect() as connection:
            exists = await connection.scalar(text(f"SELECT to_regclass('{table}') IS NOT NULL"))
        assert exists is True
    finally:
        async with database.transaction() as session:
            await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
            await session.execute(text(f"DROP TABLE IF EXISTS alembic_version_{table}"))
        await database.dispose()


async def test_concurrent_migrations_take_turns(database_url: str, tmp_path: Path) -> None:
    import asyncio
    import sys
    from asyncio.subprocess import PIPE

    table = f"common_raced_{uuid.uuid4().hex[:8]}"
    # Slow enough that the processes, started one after the other, overlap.
    ini = _write_migration_project(tmp_path, table, seconds=2)
    database = Database(database_url, pool_size=1)
    try:
        # Processes, as replicas would be (alembic's context is one per process). Without
        # the lock, all but one fail: the table exists when they create it.
        script = "import sys; from pathlib import Path; from taskhub_common.migrations "
        script += "import upgrade_to_head; upgrade_to_head(Path(sys.argv[1]), sys.argv[2])"
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", script, str(ini), database_url, stderr=PIPE
            )
            for _ in range(4)
        ]
        outcomes = await asyncio.gather(*(process.communicate() for process in processes))
        failures = [stderr.decode()[-300:] for _, stderr in outcomes if b"Error" in stderr]
        assert [process.returncode for process in processes] == [0] * 4, failures
        async with database.engine.connect() as connection:
            query = text(f"SELECT count(*) FROM alembic_version_{table}")
            versions = await connection.scalar(query)
        assert versions == 1
    finally:
        async with database.transaction() as session:
            await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
            await session.execute(text(f"DROP TABLE IF EXISTS alembic_version_{table}"))
        await database.dispose()


async def test_the_migrate_command_applies_every_revision(
    database_url: str, tmp_path: Path
) -> None:
    import asyncio

    from taskhub_common.cli import run_migrations_cli, service_parser

    table = f"common_cli_{uuid.uuid4().hex[:8]}"
    ini = _write_migration_project(tmp_path, table)
    database = Database(database_url, pool_size=1)
    try:
        status = await asyncio.to_thread(
            run_migrations_cli,
            ["migrate"],
            prog="taskhub-demo",
            service="Demo",
            alembic_ini=ini,
            database_url=database_url,
        )
        assert status == 0
        async with database.engine.connect() as connection:
            exists = await connection.scalar(text(f"SELECT to_regclass('{table}') IS NOT NULL"))
        assert exists is True
        parser, _ = service_parser("taskhub-demo", "Demo")
        with pytest.raises(SystemExit):
            parser.parse_args(["unknown"])
    finally:
        async with database.transaction() as session:
            await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
            await session.execute(text(f"DROP TABLE IF EXISTS alembic_version_{table}"))
        await database.dispose()


async def test_a_failed_statement_names_no_value_it_was_given(database_url: str) -> None:
    database = Database(database_url, pool_size=1)
    table = f"common_test_{uuid.uuid4().hex[:8]}"
    email = f"pii-{uuid.uuid4().hex[:8]}@example.com"
    try:
        async with database.transaction() as session:
            await session.execute(text(f"CREATE TABLE {table} (email text UNIQUE)"))
        insert = text(f"INSERT INTO {table} VALUES (:email)")
        async with database.transaction() as session:
            await session.execute(insert, {"email": email})
        with pytest.raises(IntegrityError) as caught:
            async with database.transaction() as session:
                await session.execute(insert, {"email": email})

        # What a log handler prints: the error, its SQL and every error it wraps.
        printed = "".join(traceback.format_exception(caught.value))
        assert "duplicate key value violates unique constraint" in printed
        assert f"{table}_email_key" in printed
        assert email not in printed
        assert "parameters hidden" in printed
    finally:
        async with database.transaction() as session:
            await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await database.dispose()

"""Alembic glue shared by the services: the async `env.py` body and `upgrade head`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection

from taskhub_common.db import create_engine


def alembic_config(ini_path: Path, database_url: str) -> Config:
    config = Config(str(ini_path))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(ini_path: Path, database_url: str) -> None:
    """Apply every migration of the service whose `alembic.ini` is `ini_path`."""
    command.upgrade(alembic_config(ini_path, database_url), "head")


def _version_table() -> str:
    # Overridable in alembic.ini so two migration histories can share one database.
    return context.config.get_main_option("version_table") or "alembic_version"


def _migrate(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        version_table=_version_table(),
    )
    with context.begin_transaction():
        # Processes migrating one database at once (replicas starting together, parallel
        # test workers) take turns: the next one reads the version the last one committed
        # and finds nothing left to do, instead of failing on a table that now exists.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": _version_table()}
        )
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_migrate, metadata)
    await engine.dispose()


def run_env(metadata: MetaData, default_url: str) -> None:
    """The whole of a service's `migrations/env.py`: migrate online over asyncpg."""
    url = context.config.attributes.get("database_url") or default_url
    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=metadata, literal_binds=True, version_table=_version_table()
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata))

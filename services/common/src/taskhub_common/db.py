"""Async SQLAlchemy plumbing: naming convention, engine/session factory, the session dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Stable constraint names so Alembic migrations can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Seconds to wait for a pooled connection, and for PostgreSQL to accept a new one.
POOL_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0


def make_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def drop_server_detail(context: ExceptionContext) -> None:
    """Strip PostgreSQL's DETAIL from a failed statement's error and the errors it wraps.

    The DETAIL quotes row values ("Key (email)=(a@b.example) already exists"), and the
    error's text ends up in tracebacks and logs; its message and constraint name remain.
    """
    error: BaseException | None = context.original_exception
    while error is not None:
        if getattr(error, "detail", None):
            error.detail = None  # type: ignore[attr-defined]  # asyncpg's PostgresMessage
        error = error.__cause__


def create_engine(url: str, **options: object) -> AsyncEngine:
    """An engine whose errors carry no values: neither bound parameters nor the DETAIL."""
    # hide_parameters: SQLAlchemy would print every bound value (e-mail addresses, task
    # titles, bodies) into the error's text, hence into every traceback.
    engine = create_async_engine(url, hide_parameters=True, **options)
    event.listen(engine.sync_engine, "handle_error", drop_server_detail)
    return engine


def refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pool checkout check without a round trip: a connection whose socket the server
    closed (a restart or a terminated backend closes every one) is replaced by a new one."""
    if dbapi_connection.driver_connection.is_closed():
        # The pool's documented signal: discard this connection and check out another.
        raise DisconnectionError("the server closed this connection")


class Database:
    """One engine and session factory per process; sessions commit only where asked.

    `ping` is how a pooled connection is checked before use: "server" asks PostgreSQL
    (SQLAlchemy's pre-ping: with asyncpg, BEGIN, an empty statement and ROLLBACK, three
    round trips per checkout); "local" only asks whether the server has closed the socket
    (no round trip). A connection lost silently (no close reaches us) then fails its first
    statement instead, a 503, and SQLAlchemy replaces the pool's connections.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        echo: bool = False,
        ping: Literal["server", "local"] = "server",
    ) -> None:
        # Both waits end well within the gateway's request timeout, so an unreachable or
        # exhausted database is the service's 503 (taskhub_common.outages), not a 504.
        self.engine: AsyncEngine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=ping == "server",
            pool_timeout=POOL_TIMEOUT_SECONDS,
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
            echo=echo,
        )
        if ping == "local":
            event.listen(self.engine.sync_engine.pool, "checkout", refuse_closed_connection)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def session(self) -> AsyncIterator[AsyncSession]:
        """The request dependency: `Depends(database.session, scope="function")`.

        `scope="function"` makes the commit happen before the response is sent, so a
        client never sees success for work that failed to commit.
        """
        async with self.transaction() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

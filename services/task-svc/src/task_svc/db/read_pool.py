"""A small asyncpg pool for single-statement reads, fair to its waiters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy.engine import make_url

from taskhub_common.errors import ServiceUnavailable
from taskhub_common.outages import DATABASE_UNAVAILABLE_ERRORS

# What a connection of this pool is (a proxy of asyncpg's), and what tests lend instead.
type ReadConnection = PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection[asyncpg.Record]


async def _keep_session_state(_connection: ReadConnection) -> None:
    """Replaces asyncpg's reset on release (a round trip per request): these connections
    run only plain reads, never SET, LISTEN or advisory locks, so there is nothing to reset."""


# Each statement here is one per filter shape whose best plan does not depend on the
# values (the caller's rows, through their indexes). Left to choose, PostgreSQL plans
# the first five runs per connection with the values, and keeps doing so whenever it
# estimates that cheaper, which for tag filters it always does: the planning then costs
# more than the run (measured: a tag-filtered page 1.1 ms with custom plans, 0.6 ms
# with the generic one; a still-exact kept page 0.86 ms vs 0.27 ms).
_READ_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


class ReadConnections(Protocol):
    """Where single-statement reads get their connection (a `ReadPool`; tests lend theirs)."""

    def connection(self) -> AbstractAsyncContextManager[ReadConnection]: ...


class ReadPool:
    """`size` autocommit connections, handed out first come, first served.

    asyncpg's own queue lets a newly arrived request take a connection that was just
    released for a waiter, so under load some requests wait for seconds; the semaphore
    (FIFO since Python 3.12) in front of it keeps the wait proportional to the queue.
    The pool opens on first use, so importing the app never touches the database.
    """

    def __init__(self, database_url: str, *, size: int) -> None:
        # The SQLAlchemy URL names its driver (postgresql+asyncpg); asyncpg wants libpq's form.
        self.dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self.size = size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._turns = asyncio.Semaphore(size)

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=1,
                    max_size=self.size,
                    reset=_keep_session_state,
                    server_settings=_READ_SETTINGS,
                )
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[ReadConnection]:
        """A connection for the duration of the block; 503 when the database is unreachable."""
        async with self._turns:
            try:
                pool = self._pool or await self._open()
                connection = await pool.acquire()
            except DATABASE_UNAVAILABLE_ERRORS as exc:
                raise ServiceUnavailable("The task database is unavailable.") from exc
            try:
                yield connection
            except DATABASE_UNAVAILABLE_ERRORS as exc:  # lost mid-request (a database restart, say)
                # Never lend it again; the pool opens a new one. A connection that closed
                # has already gone back to the pool by itself.
                with contextlib.suppress(asyncpg.InterfaceError):
                    connection.terminate()
                raise ServiceUnavailable("The task database is unavailable.") from exc
            finally:
                await pool.release(connection)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

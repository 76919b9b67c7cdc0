"""The one mapping from "a dependency cannot be reached" to a 503, for every service.

PostgreSQL stopped, restarting or killing a backend, a pool with no free connection in time,
Redis gone: the client gets `503 SERVICE_UNAVAILABLE` with `Retry-After` and can retry; the
service logs one warning line, not a traceback. Anything else stays a 500. Drivers wrap
each other's errors (SQLAlchemy wraps asyncpg, which wraps the socket's `OSError`), so the
whole cause chain is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import redis.exceptions
import sqlalchemy.exc

# Seconds a client waits before retrying: a PostgreSQL restart takes about this long.
OUTAGE_RETRY_AFTER_SECONDS = 5

# A refused or lost connection (OSError and TimeoutError included), a server shutting down
# or not accepting connections yet (57P01, 57P03 and kin), a connection closed under a query.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection became free in time
)
REDIS_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)
# The cause chain is short in practice; the bound only guards against cycles.
_MAX_CHAIN = 16


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        yield current
        if isinstance(current, sqlalchemy.exc.DBAPIError) and isinstance(
            current.orig, BaseException
        ):
            yield current.orig
        current = current.__cause__ or current.__context__


def unavailable_dependency(error: BaseException) -> str | None:
    """`"database"` or `"redis"` when `error` means that dependency cannot be reached, else None."""
    for link in _chain(error):
        if isinstance(link, REDIS_UNAVAILABLE_ERRORS):
            return "redis"
        if isinstance(link, sqlalchemy.exc.DBAPIError) and link.connection_invalidated:
            return "database"
        if isinstance(link, DATABASE_UNAVAILABLE_ERRORS):
            return "database"
    return None


def is_database_unavailable(error: BaseException) -> bool:
    return unavailable_dependency(error) == "database"

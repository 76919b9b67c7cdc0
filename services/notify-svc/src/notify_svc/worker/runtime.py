"""An event loop and a database engine per worker process, for Celery's sync tasks.

Why not a second, sync data layer: the delivery code (repositories, SSRF resolution,
httpx, the auth-svc client) is async and shared with the API. Each prefork child (or
solo/embedded worker thread) keeps one `asyncio.Runner` for its whole life rather than
calling `asyncio.run` per task, so the asyncpg pool survives between tasks (asyncpg
connections belong to the loop that opened them). A fork is detected by pid: a child
never reuses its parent's loop or connections.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.core.config import get_settings
from taskhub_common.db import Database
from taskhub_common.service import ServiceKit
from taskhub_common.tracing import instrument_clients

T = TypeVar("T")

# A worker child runs one task at a time: a small pool is plenty.
WORKER_POOL_SIZE = 2


class _State:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.runner = asyncio.Runner()
        # The service kit of this process (and thread); the delivery slots' Redis opens its
        # connections on this state's loop, on first use.
        self.kit = ServiceKit(get_settings(), database_pool_size=WORKER_POOL_SIZE)
        self.database = self.kit.database
        self.redis = self.kit.redis
        instrument_clients(self.database.engine)


class WorkerRuntime:
    """Runs coroutines to completion on this process's (and thread's) own loop."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _state(self) -> _State:
        state: _State | None = getattr(self._local, "state", None)
        if state is None or state.pid != os.getpid():
            state = _State()
            self._local.state = state
        return state

    def run(self, work: Callable[[Database], Awaitable[T]]) -> T:
        state = self._state()

        async def call() -> T:
            return await work(state.database)

        # The caller's context, not the one the runner captured on its first run: the
        # current task's trace (and anything else in contextvars) must reach the coroutine.
        return state.runner.run(call(), context=contextvars.copy_context())

    def redis(self) -> Redis:
        """This process's (and thread's) Redis client; use it inside `run`."""
        return self._state().redis

    def close(self) -> None:
        state: _State | None = getattr(self._local, "state", None)
        if state is None or state.pid != os.getpid():
            return
        state.runner.run(state.kit.aclose())
        state.runner.close()
        self._local.state = None


runtime = WorkerRuntime()


@asynccontextmanager
async def transaction(database: Database) -> AsyncIterator[AsyncSession]:
    """The worker's unit of work: commits on success, rolls back on any error."""
    async with database.transaction() as session:
        yield session

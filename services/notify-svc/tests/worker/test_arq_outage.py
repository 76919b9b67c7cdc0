"""The ARQ worker outlives a Redis outage: it waits, reconnects, and releases at once the
jobs that fell due meanwhile. Redis here is a private server this test stops and starts
(append-only file, as a restarted production Redis keeps its data)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from arq import create_pool
from arq.worker import create_worker

from notify_svc.db.session import database
from notify_svc.models import Job, JobKind, JobStatus, JobType
from notify_svc.services.jobs import add_job, job_values
from notify_svc.worker.arq_worker import (
    RECONNECT_MAX_SECONDS,
    WorkerSettings,
    worker_redis_settings,
)
from notify_svc.worker.dispatch import arq_deserialize, arq_serialize
from notify_svc.worker.queues import RELEASE_FUNCTION

# The Celery worker delivers the released e-mail: nothing is left running for the next test.
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean", "celery_worker")]

# The outage lasts this long; the job falls due in the middle of it.
OUTAGE_SECONDS = 2.5


@dataclass
class PrivateRedis:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.folder), "--appendonly", "yes", "--save", "",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: the append-only file is flushed
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = PrivateRedis(port, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def arq_worker(private_redis: PrivateRedis) -> AsyncIterator[asyncio.Task[None]]:
    worker = create_worker(
        cast(Any, WorkerSettings),
        redis_settings=worker_redis_settings(private_redis.url),
        poll_delay=0.05,
        handle_signals=False,
    )
    running = asyncio.create_task(worker.async_run())
    yield running
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    if private_redis.process is not None:
        await worker.close()


async def _scheduled_job(redis_url: str, send_at: datetime) -> uuid.UUID:
    async with database.transaction() as session:
        values = job_values(
            job_type=JobType.EMAIL,
            kind=JobKind.MANUAL,
            payload={"to": "bob@example.com", "subject": "Later", "body": "Now"},
            owner_id=uuid.uuid4(),
            send_at=send_at,
        )
        job_id = (await add_job(session, values)).id
    pool = await create_pool(
        worker_redis_settings(redis_url),
        job_serializer=arq_serialize,
        job_deserializer=arq_deserialize,
    )
    await pool.enqueue_job(RELEASE_FUNCTION, str(job_id), _job_id=str(job_id), _defer_until=send_at)
    await pool.aclose()
    return job_id


async def _status(job_id: uuid.UUID) -> str:
    async with database.sessionmaker() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job.status


async def test_the_arq_worker_waits_out_a_redis_outage_and_releases_what_fell_due(
    private_redis: PrivateRedis,
    arq_worker: asyncio.Task[None],
    wait_for: Callable[..., Awaitable[Any]],
    capfd: pytest.CaptureFixture[str],
) -> None:
    send_at = datetime.now(UTC) + timedelta(seconds=OUTAGE_SECONDS / 2 + 0.5)
    job_id = await _scheduled_job(private_redis.url, send_at)
    await asyncio.sleep(0.5)  # the worker polls

    private_redis.stop()
    await asyncio.sleep(OUTAGE_SECONDS)
    during = await _status(job_id)
    survived = not arq_worker.done()
    private_redis.start()
    back = time.monotonic()
    status = await wait_for(lambda: _status(job_id), lambda value: value != "scheduled", within=5)
    released_after = time.monotonic() - back
    delivered = await wait_for(lambda: _status(job_id), lambda value: value == "ok", within=10)

    assert datetime.now(UTC) > send_at
    assert survived, arq_worker.exception() if arq_worker.done() else None
    assert during == JobStatus.SCHEDULED
    assert status in {JobStatus.QUEUED, JobStatus.OK}
    assert delivered == JobStatus.OK
    assert released_after < RECONNECT_MAX_SECONDS + 1.0
    # The worker's own log lines (its startup installs the JSON handler on stdout).
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line[:1] == "{"]
    said = {line["msg"] for line in lines if line["logger"] == "notify_svc.worker.arq_worker"}
    assert {"redis unreachable, reconnecting", "redis reachable again"} <= said

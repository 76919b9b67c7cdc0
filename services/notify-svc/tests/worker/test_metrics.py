"""Worker metrics: the HTTP exposition, queue depth, task counters."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from notify_svc.core.config import get_settings
from notify_svc.core.metrics import QueueDepthCollector, metrics_registry, start_metrics_server

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("celery_worker")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_metrics_server_exposes_task_counters_and_queue_depth(
    client: httpx.AsyncClient,
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    alice = make_user()
    job_id = (
        await client.post(
            "/notify/email",
            json={"to": "m@example.com", "subject": "s", "body": "b"},
            headers=alice.headers,
        )
    ).json()["id"]
    await job_status(job_id, alice.headers, {"ok"})
    port = _free_port()
    depth = QueueDepthCollector(get_settings().celery_broker_url, ["celery"])
    server = start_metrics_server(port, address="127.0.0.1", extra=[depth])
    assert server is not None
    try:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    finally:
        server.shutdown()
        REGISTRY.unregister(depth)
    assert 'taskhub_celery_tasks_total{outcome="success",task="notify.deliver_job"}' in text
    assert 'taskhub_celery_task_duration_seconds_count{task="notify.deliver_job"}' in text
    assert 'taskhub_notify_jobs_total{status="ok",type="email"}' in text
    assert 'taskhub_celery_queue_depth{queue="celery"} 0.0' in text


def test_port_zero_disables_the_server() -> None:
    assert start_metrics_server(0, address="127.0.0.1") is None


def test_queue_depth_skips_an_unreachable_broker() -> None:
    collector = QueueDepthCollector("redis://127.0.0.1:1/0", ["celery"])
    [family] = list(collector.collect())
    assert family.samples == []


def test_multiprocess_registry(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert metrics_registry() is not REGISTRY


def _counted() -> tuple[float, float]:
    """(successful delivery task runs, e-mail jobs that reached `ok`) in this process."""
    runs = REGISTRY.get_sample_value(
        "taskhub_celery_tasks_total", {"task": "notify.deliver_job", "outcome": "success"}
    )
    delivered = REGISTRY.get_sample_value(
        "taskhub_notify_jobs_total", {"type": "email", "status": "ok"}
    )
    return runs or 0.0, delivered or 0.0


async def test_a_message_of_several_emails_is_one_task_run_and_each_delivery_counts(
    client: httpx.AsyncClient,
    internal_headers: dict[str, str],
    auth_stub: Any,
    make_user: Callable[..., Any],
    job_status: Callable[..., Awaitable[dict[str, Any]]],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    import uuid
    from datetime import UTC, datetime

    owner = make_user()
    auth_stub.add_user(owner.id)
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "type": "task.done",
            "occurred_at": datetime.now(UTC).isoformat(),
            "task": {"id": str(uuid.uuid4()), "owner_id": str(owner.id), "status": "done"},
        }
        for _ in range(3)
    ]
    runs_before, delivered_before = _counted()
    answer = await client.post(
        "/internal/events/batch", json={"events": events}, headers=internal_headers
    )
    job_ids = [result["job_ids"][0] for result in answer.json()["results"]]
    for job_id in job_ids:
        await job_status(job_id, owner.headers, {"ok"})

    async def grown() -> tuple[float, float]:
        runs, delivered = _counted()
        return runs - runs_before, delivered - delivered_before

    # The embedded worker runs in this process: its counters are the ones read here. The
    # signal fires just after the commit the job status shows, hence the short wait.
    assert await wait_for(grown, lambda value: value[0] >= 1, within=3.0) == (1, 3)

"""Worker tracing: each task's coroutine runs in that task's trace, and ARQ carries traces."""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry import trace

from notify_svc.worker.runtime import WorkerRuntime
from taskhub_common.db import Database
from taskhub_common.tracing import configure_tracing, current_trace_id, inject_trace_context


def test_each_run_sees_the_trace_current_at_its_call() -> None:
    configure_tracing("notify-svc")
    runtime = WorkerRuntime()
    tracer = trace.get_tracer("test")

    async def trace_inside(_: Database) -> str | None:
        return current_trace_id()

    try:
        seen = []
        for name in ("first task", "second task"):
            with tracer.start_as_current_span(name):
                seen.append((current_trace_id(), runtime.run(trace_inside)))
    finally:
        runtime.close()
    # The runner is reused; the trace of its first run must not stick to later ones.
    assert [inside for _, inside in seen] == [outside for outside, _ in seen]
    assert seen[0][0] != seen[1][0]


def test_a_release_continues_the_trace_that_scheduled_it(monkeypatch: Any) -> None:
    from notify_svc.worker import arq_worker

    configure_tracing("notify-svc")
    seen: list[str | None] = []

    async def fake_release(job_id: str) -> str:  # the database part is tested elsewhere
        seen.append(current_trace_id())
        return "released"

    monkeypatch.setattr(arq_worker, "_release", fake_release)
    with trace.get_tracer("test").start_as_current_span("POST /notify/email"):
        scheduling_trace = current_trace_id()
        carried = inject_trace_context()
    asyncio.run(arq_worker.release_job({}, "job", trace_context=carried))
    asyncio.run(arq_worker.release_job({}, "job"))
    assert seen[0] == scheduling_trace
    assert seen[1] not in (None, scheduling_trace)

"""Latency from "task marked done" to "its task_done e-mail job is ok", through the gateway.

Usage (against a running stack):

    uv run python services/notify-svc/benchmarks/bench_done_to_ok.py [--base-url URL]

Single-task mode (the default): it registers a throwaway user, creates N tasks (default
50, below the 60/min creation limit), then for each task PATCHes it to `done` and polls
`GET /notify/jobs?task_id=<id>&kind=task_done` until the e-mail job is `ok`. The clock
starts just before the PATCH is sent. Prints p50/p95/max and exits 1 when p95 exceeds the
target (default 2 s). Polling adds up to one poll interval to each sample.

Bulk mode (`--bulk-calls K`, e.g. `--tasks 500 --bulk-calls 5`; creating that many tasks
needs the stack's raised creation limit, `TASKS_CREATE_RATE_LIMIT`): the N tasks are
marked done in K `POST /tasks/bulk-status` calls sent back to back, and the clock runs from
the first call until every task has an `ok` e-mail job. `--restart-notify` restarts
notify-svc (`taskhub-stack restart notify-svc`) after half of the calls and sends the rest
once it stops answering (the time to all-ok then includes its restart, also printed as the
time from its return to all-ok). Prints the time to all-ok, the rate, and after a settling
pause the duplicates (more than one e-mail job for a task) and losses (no e-mail job);
exits 1 when any is found, or the time exceeds `--bulk-target` (default 4 s).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx

from taskhub_stack.ports import StackPorts


async def _call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, waiting out the gateway's 429s (their time counts: users see it too)."""
    while True:
        response = await client.request(method, url, **kwargs)
        if response.status_code != httpx.codes.TOO_MANY_REQUESTS:
            return response
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Bench-{uuid.uuid4().hex}"
    registered = await _call(
        client,
        "POST",
        "/auth/register",
        json={"email": email, "password": password, "name": "Bench"},
    )
    registered.raise_for_status()
    login = await _call(client, "POST", "/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access']}"}


async def _create_tasks(
    client: httpx.AsyncClient, headers: dict[str, str], count: int
) -> list[str]:
    ids = []
    for number in range(count):
        response = await _call(
            client, "POST", "/tasks", json={"title": f"bench task {number}"}, headers=headers
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids


async def _done_to_ok(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    task_id: str,
    *,
    poll_interval: float,
    give_up_after: float,
) -> float:
    started = time.perf_counter()
    patched = await _call(
        client, "PATCH", f"/tasks/{task_id}", json={"status": "done"}, headers=headers
    )
    patched.raise_for_status()
    deadline = started + give_up_after
    while time.perf_counter() < deadline:
        response = await _call(
            client,
            "GET",
            "/notify/jobs",
            params={"task_id": task_id, "kind": "task_done"},
            headers=headers,
        )
        response.raise_for_status()
        if any(
            job["type"] == "email" and job["status"] == "ok" for job in response.json()["items"]
        ):
            return time.perf_counter() - started
        await asyncio.sleep(poll_interval)
    raise TimeoutError(f"task {task_id}: no ok task_done e-mail within {give_up_after} s")


async def _count_jobs(
    client: httpx.AsyncClient, headers: dict[str, str], *, status: str | None = None
) -> int:
    """How many task_done jobs the user sees (one page of one row: only `total` is read)."""
    params = {"kind": "task_done", "limit": "1"}
    if status is not None:
        params["status"] = status
    response = await _call(client, "GET", "/notify/jobs", params=params, headers=headers)
    response.raise_for_status()
    total: int = response.json()["total"]
    return total


async def _email_jobs_per_task(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    page = 1
    while True:
        response = await _call(
            client,
            "GET",
            "/notify/jobs",
            params={"kind": "task_done", "limit": "100", "page": str(page)},
            headers=headers,
        )
        response.raise_for_status()
        items = response.json()["items"]
        for job in items:
            if job["type"] == "email":
                counts[job["task_id"]] = counts.get(job["task_id"], 0) + 1
        if len(items) < 100:
            return counts
        page += 1


async def _restart_notify() -> None:
    """Restart notify-svc (the command returns a little after it answers again: it waits
    for the gateway to take the instance back)."""
    # The stack's own command, so the restart is the one operators do.
    process = await asyncio.create_subprocess_exec(
        "uv",
        "run",
        "taskhub-stack",
        "restart",
        "notify-svc",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    await process.wait()


async def _until_notify_down(client: httpx.AsyncClient) -> None:
    """Wait until notify-svc stops answering, so the remaining calls meet the outage."""
    deadline = time.perf_counter() + 30.0
    while time.perf_counter() < deadline:
        try:
            response = await client.get("/notify/healthz", timeout=1.0)
            if response.status_code != httpx.codes.OK:
                return
        except httpx.HTTPError:
            return
        await asyncio.sleep(0.02)


async def _until_notify_up(client: httpx.AsyncClient) -> float:
    """The moment (perf_counter) notify-svc answers its health check again."""
    while True:
        try:
            response = await client.get("/notify/healthz", timeout=1.0)
            if response.status_code == httpx.codes.OK:
                return time.perf_counter()
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.02)


async def _bulk_done(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    task_ids: list[str],
    args: argparse.Namespace,
) -> tuple[float, float, asyncio.Task[float] | None]:
    """Mark every task done in `args.bulk_calls` calls: the seconds until all are ok, that
    moment (perf_counter), and with `--restart-notify` when notify-svc answered again."""
    size = -(-len(task_ids) // args.bulk_calls)
    chunks = [task_ids[start : start + size] for start in range(0, len(task_ids), size)]
    restart: asyncio.Task[None] | None = None
    back: asyncio.Task[float] | None = None
    started = time.perf_counter()
    for number, chunk in enumerate(chunks):
        if args.restart_notify and number == len(chunks) // 2:
            restart = asyncio.create_task(_restart_notify())
            await _until_notify_down(client)
            back = asyncio.create_task(_until_notify_up(client))
        response = await _call(
            client,
            "POST",
            "/tasks/bulk-status",
            json={"ids": chunk, "status": "done"},
            headers=headers,
        )
        response.raise_for_status()
    deadline = started + args.timeout
    while time.perf_counter() < deadline:
        try:
            if await _count_jobs(client, headers, status="ok") >= len(task_ids):
                all_ok_at = time.perf_counter()
                if restart is not None:
                    await restart
                return all_ok_at - started, all_ok_at, back
        except httpx.HTTPError:
            pass  # notify-svc restarting: its gateway answers 502/503 for a moment
        await asyncio.sleep(args.poll_interval)
    raise TimeoutError(f"not every e-mail job ok within {args.timeout} s")


async def run_bulk(args: argparse.Namespace) -> int:
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=30.0, limits=limits) as client:
        headers = await _login(client)
        gate = asyncio.Semaphore(16)

        async def create(number: int) -> str:
            async with gate:
                response = await _call(
                    client, "POST", "/tasks", json={"title": f"bench {number}"}, headers=headers
                )
                response.raise_for_status()
                task_id: str = response.json()["id"]
                return task_id

        task_ids = list(await asyncio.gather(*(create(n) for n in range(args.tasks))))
        elapsed, all_ok_at, back = await _bulk_done(client, headers, task_ids, args)
        back_at = await back if back is not None else None
        # A duplicate would show up late (a resent event): look again after a pause.
        await asyncio.sleep(args.settle)
        counts = await _email_jobs_per_task(client, headers)
    duplicates = sum(count - 1 for count in counts.values() if count > 1)
    lost = sum(1 for task_id in task_ids if task_id not in counts)
    restarted = ""
    if back_at is not None:
        after = all_ok_at - back_at
        restarted = f" (notify-svc restarted midway; all ok {after:.2f}s after it answered again)"
    print(f"tasks={len(task_ids)} bulk_calls={args.bulk_calls}{restarted}")
    print(
        f"all e-mail jobs ok after {elapsed:.2f}s: {len(task_ids) / elapsed:.1f} notifications/s;"
        f" duplicates={duplicates} lost={lost}"
    )
    if duplicates or lost or elapsed > args.bulk_target:
        print(f"FAIL: target is all ok within {args.bulk_target}s, no duplicate, no loss")
        return 1
    print(f"OK: within the {args.bulk_target}s target, no duplicate, no loss")
    return 0


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    # Nearest-rank percentile: the smallest sample with at least `fraction` at or below it.
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


async def run(args: argparse.Namespace) -> int:
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=10.0, limits=limits) as client:
        headers = await _login(client)
        task_ids = await _create_tasks(client, headers, args.tasks)
        gate = asyncio.Semaphore(args.concurrency)

        async def measure(task_id: str) -> float:
            async with gate:
                return await _done_to_ok(
                    client,
                    headers,
                    task_id,
                    poll_interval=args.poll_interval,
                    give_up_after=args.timeout,
                )

        samples = await asyncio.gather(*(measure(task_id) for task_id in task_ids))
    p50, p95 = statistics.median(samples), _percentile(samples, 0.95)
    print(f"tasks={len(samples)} concurrency={args.concurrency} poll={args.poll_interval}s")
    print(f"done->ok p50={p50:.3f}s p95={p95:.3f}s max={max(samples):.3f}s min={min(samples):.3f}s")
    if p95 > args.target:
        print(f"FAIL: p95 {p95:.3f}s is above the {args.target}s target")
        return 1
    print(f"OK: p95 within the {args.target}s target")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=StackPorts.from_env().url("gateway"),
        help="the gateway of a running stack",
    )
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=5, help="tasks measured at once")
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=30.0, help="per task, seconds")
    parser.add_argument("--target", type=float, default=2.0, help="p95 bound, seconds")
    parser.add_argument(
        "--bulk-calls", type=int, default=0, help="bulk mode: mark the tasks done in K calls"
    )
    parser.add_argument(
        "--restart-notify", action="store_true", help="bulk mode: restart notify-svc midway"
    )
    parser.add_argument("--bulk-target", type=float, default=4.0, help="bulk mode, seconds")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="bulk mode: pause before counting jobs"
    )
    args = parser.parse_args()
    if args.bulk_calls > 0:
        if args.timeout == 30.0:
            args.timeout = 120.0  # the whole batch, not one task
        return asyncio.run(run_bulk(args))
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

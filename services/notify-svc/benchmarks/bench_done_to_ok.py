"""Latency from "task marked done" to "its task_done e-mail job is ok", through the gateway.

Usage (against a running stack):

    uv run python services/notify-svc/benchmarks/bench_done_to_ok.py --base-url http://localhost:8080

It registers a throwaway user, creates N tasks (default 50, below the 60/min creation
limit), then for each task PATCHes it to `done` and polls
`GET /notify/jobs?task_id=<id>&kind=task_done` until the e-mail job is `ok`. The clock
starts just before the PATCH is sent. Prints p50/p95/max and exits 1 when p95 exceeds the
target (default 2 s). Polling adds up to one poll interval to each sample.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

import httpx


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
        "--base-url", default="http://127.0.0.1:8080", help="the gateway of a running stack"
    )
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=5, help="tasks measured at once")
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=30.0, help="per task, seconds")
    parser.add_argument("--target", type=float, default=2.0, help="p95 bound, seconds")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())

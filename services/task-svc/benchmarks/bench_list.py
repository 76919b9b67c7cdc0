"""Throughput and latency of `GET /tasks?limit=50` next to `GET /tasks/healthz`.

Usage (from the repository root, inside the workspace venv):

    python services/task-svc/benchmarks/bench_list.py \\
        [--base-url URL] [--auth-url URL] \\
        (--token ACCESS_TOKEN | --email E --password P [--register]) \\
        [--tasks 1000] [--connections 32] [--duration 15]

What it does:
1. Gets an access token: the one given, or by logging in through `{auth-url}/auth/login`
   (`--register` creates the account first).
2. Seeds the benchmark user with `--tasks` tasks of 3 tags each through `POST /tasks`
   (skipped when the user already has that many). Seeding goes through the real API, so
   the target stack must run task-svc with a raised creation limit, e.g.
   `TASKS_CREATE_RATE_LIMIT=100000/minute`; a 429 stops the script with that advice.
3. Runs `wrk` (Debian package `wrk`) with `--connections` connections for `--duration`
   seconds against `/tasks/healthz`, then against `/tasks?limit=50`, and prints requests
   per second, p50/p90/p99 and the targets: list >= 25 % of healthz rps, list p99 <= 150 ms.
4. Creates a `tasks:read` API key for the same user and runs the list again with the key as
   the bearer credential: a key must cost no more than a token (key rps >= 90 % of token
   rps). Both runs read the same pages, so the difference is what authenticating costs.

A Python load generator would saturate the 2-core machines before the server does; wrk
is a C event loop that costs little CPU per request.

wrk repeats one request, so after the first few the list comes from task-svc's page cache
(checked against the user's list version on every request; see the service README). To
measure the rendering path instead, start the stack with the cache off:
`TASKS_LIST_CACHE_BYTES=0 uv run nox -s bench -- task`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass

import httpx

from taskhub_stack.ports import StackPorts

LIST_PATH = "/tasks?limit=50"
HEALTH_PATH = "/tasks/healthz"
TARGET_RPS_RATIO = 0.25
TARGET_P99_MS = 150.0
TARGET_KEY_RPS_RATIO = 0.9
SEED_CONCURRENCY = 8
TAG_POOL = [f"tag-{n:02d}" for n in range(30)]


@dataclass(frozen=True)
class WrkResult:
    path: str
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-url",
        default=StackPorts.from_env().url("gateway"),
        help="the gateway (default: the native stack's, `taskhub-stack url gateway`)",
    )
    parser.add_argument("--auth-url", help="where /auth lives (default: --base-url)")
    parser.add_argument("--token", help="an access token of the benchmark user")
    parser.add_argument("--email", help="log in as this user (with --password)")
    parser.add_argument("--password")
    parser.add_argument("--register", action="store_true", help="register the user first")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if not args.token and not (args.email and args.password):
        parser.error("give --token, or --email and --password")
    return args


async def _access_token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    auth_url = args.auth_url or args.base_url
    async with httpx.AsyncClient(base_url=auth_url, timeout=30) as client:
        credentials = {"email": args.email, "password": args.password}
        if args.register:
            response = await client.post(
                "/auth/register", json={**credentials, "name": "Benchmark"}
            )
            if response.status_code not in (201, 409):
                raise SystemExit(f"register failed: {response.status_code} {response.text}")
        response = await client.post("/auth/login", json=credentials)
        if response.status_code != 200:
            raise SystemExit(f"login failed: {response.status_code} {response.text}")
        return str(response.json()["access"])


async def _seed(base_url: str, headers: dict[str, str], wanted: int) -> int:
    """Create tasks until the user sees `wanted` of them; returns the total."""
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        listing = await client.get("/tasks", params={"limit": 1})
        listing.raise_for_status()
        existing = int(listing.json()["total"])
        missing = max(0, wanted - existing)
        semaphore = asyncio.Semaphore(SEED_CONCURRENCY)

        async def create(number: int) -> None:
            tags = [TAG_POOL[(number + k * 7) % len(TAG_POOL)] for k in range(3)]
            body = {"title": f"bench {number} {uuid.uuid4().hex[:6]}", "tags": tags}
            async with semaphore:
                response = await client.post("/tasks", json=body)
            if response.status_code == 429:
                raise SystemExit(
                    "429 while seeding: run task-svc with a raised TASKS_CREATE_RATE_LIMIT "
                    "(e.g. 100000/minute) for the benchmark, or seed fewer tasks."
                )
            response.raise_for_status()

        await asyncio.gather(*(create(existing + n) for n in range(missing)))
        page = (await client.get("/tasks", params={"limit": 50})).json()
        if len(page["items"]) != min(50, page["total"]):
            raise SystemExit("the list endpoint returned an unexpected page")
        return int(page["total"])


_LATENCY_LINE = re.compile(r"^\s*(50|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(path: str, output: str) -> WrkResult:
    """The figures of `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    latencies = {
        quantile: float(value) * _UNITS_MS[unit]
        for quantile, value, unit in _LATENCY_LINE.findall(output)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(group) for group in socket_errors.groups())
    return WrkResult(
        path=path,
        requests_per_second=float(rps.group(1)),
        p50_ms=latencies["50"],
        p90_ms=latencies["90"],
        p99_ms=latencies["99"],
        errors=errors,
    )


async def _api_key(args: argparse.Namespace, token: str) -> str:
    """A `tasks:read` key of the benchmark user (a new one per run)."""
    auth_url = args.auth_url or args.base_url
    async with httpx.AsyncClient(base_url=auth_url, timeout=30) as client:
        response = await client.post(
            "/auth/api-keys",
            json={"name": f"bench {uuid.uuid4().hex[:6]}", "scopes": ["tasks:read"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code != 201:
            raise SystemExit(f"API key creation failed: {response.status_code} {response.text}")
        return str(response.json()["key"])


def _wrk(args: argparse.Namespace, path: str, token: str) -> WrkResult:
    command = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={args.duration}s",
        "--timeout=5s",
        "--latency",
        "--header",
        f"Authorization: Bearer {token}",
        args.base_url.rstrip("/") + path,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return parse_wrk(path, completed.stdout)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    token = asyncio.run(_access_token(args))
    total = asyncio.run(_seed(args.base_url, {"Authorization": f"Bearer {token}"}, args.tasks))
    key = asyncio.run(_api_key(args, token))
    health = _wrk(args, HEALTH_PATH, token)
    listing = _wrk(args, LIST_PATH, token)
    keyed = _wrk(args, LIST_PATH, key)
    ratio = listing.requests_per_second / health.requests_per_second
    key_ratio = keyed.requests_per_second / listing.requests_per_second
    verdict = {
        "list_rps_ratio": round(ratio, 3),
        "key_rps_ratio": round(key_ratio, 3),
        "ratio_ok": ratio >= TARGET_RPS_RATIO,
        "p99_ok": listing.p99_ms <= TARGET_P99_MS,
        "key_ok": key_ratio >= TARGET_KEY_RPS_RATIO,
        "errors_ok": health.errors == 0 and listing.errors == 0 and keyed.errors == 0,
    }
    if args.json:
        print(json.dumps({"tasks": total, "healthz": asdict(health), "list": asdict(listing),
                          "list_with_key": asdict(keyed), **verdict}, indent=2))  # fmt: skip
    else:
        print(f"tasks visible to the user: {total}; {args.connections} connections, "
              f"{args.duration} s each")  # fmt: skip
        for label, result in (("token", health), ("token", listing), ("API key", keyed)):
            print(
                f"{result.path:<20} {label:<8} {result.requests_per_second:9.1f} req/s  "
                f"p50 {result.p50_ms:7.2f} ms  p90 {result.p90_ms:7.2f} ms  "
                f"p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
            )
        print(
            f"list/healthz = {ratio:.1%} (target >= {TARGET_RPS_RATIO:.0%}: "
            f"{'ok' if verdict['ratio_ok'] else 'MISSED'}); list p99 target <= "
            f"{TARGET_P99_MS:.0f} ms: {'ok' if verdict['p99_ok'] else 'MISSED'}"
        )
        print(
            f"list with an API key / with a token = {key_ratio:.1%} (target >= "
            f"{TARGET_KEY_RPS_RATIO:.0%}: {'ok' if verdict['key_ok'] else 'MISSED'})"
        )
    checks = ("ratio_ok", "p99_ok", "key_ok", "errors_ok")
    return 0 if all(verdict[check] for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

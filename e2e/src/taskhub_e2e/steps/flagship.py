"""Steps of the end-to-end flow that read Prometheus: the counters before, and their growth.

Counters only grow (other scenarios running meanwhile add to them too), so the check is
"grew by at least what this scenario did", polled until Prometheus has scraped it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
import pytest
from pytest_bdd import given, parsers, then

from taskhub_e2e.actors import Cast
from taskhub_e2e.target import Capability, Target
from taskhub_e2e.taskbook import TaskBook

HER = r"(?:her|his|their)"
# Natively Prometheus scrapes every 5 s; a deployment's default is 15 s.
METRICS_SECONDS = 45.0
POLL_SECONDS = 1.0
QUERY_TIMEOUT_SECONDS = 5.0

TASKS_CREATED = (
    'sum(http_server_request_duration_seconds_count{job="task-svc", http_route="/tasks", '
    'http_request_method="POST", http_response_status_code="201"})'
)
TASKS_LIMITED = (
    'sum(http_server_request_duration_seconds_count{job="task-svc", http_route="/tasks", '
    'http_request_method="POST", http_response_status_code="429"})'
)
DELIVERIES = 'sum(taskhub_celery_tasks_total{task="notify.deliver_job", outcome="success"})'


@dataclass
class MetricsBaseline:
    """The counters as the scenario began, or why they cannot be read."""

    values: dict[str, float] = field(default_factory=dict)
    unavailable: str = ""


def query(prometheus_url: str, promql: str) -> float:
    """The value of a scalar-like PromQL sum; 0 when no series exists yet."""
    response = httpx.get(
        f"{prometheus_url.rstrip('/')}/api/v1/query",
        params={"query": promql},
        timeout=QUERY_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


@pytest.fixture
def metrics_baseline() -> MetricsBaseline:
    return MetricsBaseline()


@given("the operators have noted the metrics")
def note_metrics(target: Target, metrics_baseline: MetricsBaseline) -> None:
    # Without Prometheus the rest of the flow still runs; only the last step is skipped.
    if not target.has(Capability.METRICS) or target.prometheus_url is None:
        metrics_baseline.unavailable = target.missing.get(Capability.METRICS, "no Prometheus")
        return
    for promql in (TASKS_CREATED, TASKS_LIMITED, DELIVERIES):
        metrics_baseline.values[promql] = query(target.prometheus_url, promql)


@then(parsers.re(rf"^the metrics show {HER} task requests and the deliveries$"))
def metrics_grew(
    cast: Cast, target: Target, task_book: TaskBook, metrics_baseline: MetricsBaseline
) -> None:
    if metrics_baseline.unavailable or target.prometheus_url is None:
        pytest.skip(f"needs {Capability.METRICS}: {metrics_baseline.unavailable}")
    mine = task_book.owned_by(cast["she"])
    done = [task for task in mine if task["status"] == "done"]
    wanted = {
        TASKS_CREATED: metrics_baseline.values[TASKS_CREATED] + len(mine),
        TASKS_LIMITED: metrics_baseline.values[TASKS_LIMITED] + 1,
        DELIVERIES: metrics_baseline.values[DELIVERIES] + len(done),
    }
    deadline = time.monotonic() + METRICS_SECONDS
    while True:
        seen = {promql: query(target.prometheus_url, promql) for promql in wanted}
        short = {
            promql: (seen[promql], at_least)
            for promql, at_least in wanted.items()
            if seen[promql] < at_least
        }
        if not short or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    assert not short, "\n".join(
        f"{promql} is {value:.0f}, expected at least {at_least:.0f}"
        for promql, (value, at_least) in short.items()
    )

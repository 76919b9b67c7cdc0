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
    'http_server_request_duration_seconds_count{job="task-svc", http_route="/tasks", '
    'http_request_method="POST", http_response_status_code="201"}'
)
TASKS_LIMITED = (
    'http_server_request_duration_seconds_count{job="task-svc", http_route="/tasks", '
    'http_request_method="POST", http_response_status_code="429"}'
)
# Per job: the e-mails of a batch of task events travel several to one Celery task.
DELIVERIES = 'taskhub_notify_jobs_total{status="ok"}'
# Covers a scrape before the scenario began and one after its last request.
WINDOW_MARGIN_SECONDS = 30


@dataclass
class MetricsBaseline:
    """When the scenario began, or why the metrics cannot be read."""

    started_at: float = field(default_factory=time.time)
    totals: dict[str, float] = field(default_factory=dict)
    unavailable: str = ""

    # Samples older than this belong to a process that is gone (a stack run before this
    # one): twice the slowest scrape interval, plus slack.
    fresh_seconds: int = 35

    def total(self, prometheus_url: str, counter: str) -> float:
        """The sum of the series of `counter` that are being scraped now."""
        return query(prometheus_url, f"sum(last_over_time({counter}[{self.fresh_seconds}s]))")

    def growth(self, prometheus_url: str, counter: str) -> float:
        """How much `counter` grew since the scenario began, read two ways because each
        misses a case: `increase` sees through a restart whose stale sample would fake a
        high baseline, but counts nothing for a series born inside its window (its first
        sample is not 0); the difference of the live totals covers that case."""
        window = int(time.time() - self.started_at) + WINDOW_MARGIN_SECONDS
        increased = query(prometheus_url, f"sum(increase({counter}[{window}s]))")
        difference = self.total(prometheus_url, counter) - self.totals.get(counter, 0.0)
        return max(increased, difference)


def scrape_interval_seconds(prometheus_url: str) -> int:
    """The longest scrape interval of Prometheus' active targets ("5s", "15s", "1m")."""
    response = httpx.get(
        f"{prometheus_url.rstrip('/')}/api/v1/targets", timeout=QUERY_TIMEOUT_SECONDS
    )
    response.raise_for_status()
    units = {"s": 1, "m": 60}
    intervals = [
        int(target["scrapeInterval"][:-1]) * units[target["scrapeInterval"][-1]]
        for target in response.json()["data"]["activeTargets"]
    ]
    return max(intervals, default=15)


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
    metrics_baseline.started_at = time.time()
    metrics_baseline.fresh_seconds = 2 * scrape_interval_seconds(target.prometheus_url) + 2
    for counter in (TASKS_CREATED, TASKS_LIMITED, DELIVERIES):
        metrics_baseline.totals[counter] = metrics_baseline.total(target.prometheus_url, counter)


@then(parsers.re(rf"^the metrics show {HER} task requests and the deliveries$"))
def metrics_grew(
    cast: Cast, target: Target, task_book: TaskBook, metrics_baseline: MetricsBaseline
) -> None:
    if metrics_baseline.unavailable or target.prometheus_url is None:
        pytest.skip(f"needs {Capability.METRICS}: {metrics_baseline.unavailable}")
    mine = task_book.owned_by(cast["she"])
    done = [task for task in mine if task["status"] == "done"]
    # At least: scenarios running in parallel add to the same counters.
    wanted = {TASKS_CREATED: len(mine), TASKS_LIMITED: 1, DELIVERIES: len(done)}
    deadline = time.monotonic() + METRICS_SECONDS
    while True:
        seen = {
            counter: metrics_baseline.growth(target.prometheus_url, counter) for counter in wanted
        }
        # increase() extrapolates to the window's edges, so allow half a count of slack.
        short = {
            counter: (seen[counter], at_least)
            for counter, at_least in wanted.items()
            if seen[counter] < at_least - 0.5
        }
        if not short or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    assert not short, "\n".join(
        f"{counter} grew by {value:.1f}, expected at least {at_least}"
        for counter, (value, at_least) in short.items()
    )

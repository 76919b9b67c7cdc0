"""Every PromQL expression of the Grafana dashboards and the recording rules, run for real.

Needs a running stack with its Prometheus (natively: `taskhub-stack up`; elsewhere set
TASKHUB_BASE_URL and TASKHUB_PROMETHEUS_URL); without one the module is skipped with the
reason. The module first drives traffic through the gateway, including the rare events
(a dead letter, a rate-limit rejection, an ARQ release), waits for them to be scraped,
then asks Prometheus each expression: it must parse and return at least one series.

Only the 5xx expressions may return nothing: a 5xx needs a broken service, and breaking
one is a chaos scenario's job, not this check's. An alert's expression returns nothing
while all is well, so for alerts every series the expression reads must have data instead
(a misspelt metric would never fire).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from taskhub_stack.load import exercise_signals
from taskhub_stack.ports import StackPorts

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "infra" / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((REPO / "infra" / "prometheus" / "rules").glob("*.yml"))
BASE_URL = os.environ.get("TASKHUB_BASE_URL") or StackPorts.from_env().url("gateway")
# Natively the stack's own Prometheus, wherever TASKHUB_PROMETHEUS_PORT moved it.
PROMETHEUS_URL = os.environ.get(
    "TASKHUB_PROMETHEUS_URL",
    StackPorts.from_env().url("prometheus"),
)
# Long enough for two scrapes and a rule evaluation at compose's 15 s interval.
SETTLE_TIMEOUT_SECONDS = 60.0
# Series that exist only once a service answered 5xx.
NEEDS_A_SERVER_ERROR = re.compile(r'5xx|status_code=~?"5')
# Grafana's own variables, replaced the way Grafana would before querying.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, expr) for every target of every panel, rows' nested panels included."""
    found: list[tuple[str, str]] = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    where = f"{path.name}: {panel['title']} [{target['refId']}]"
                    found.append((where, _substitute(target["expr"])))
    return found


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _substitute(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def rule_expressions(*, alerts: bool = False) -> list[tuple[str, str]]:
    """(where, expr) of every recording rule, or (`alerts`) of every alert."""
    found: list[tuple[str, str]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if ("alert" in rule) != alerts:
                    continue
                name = rule.get("record") or rule.get("alert")
                labels = ",".join(f"{k}={v}" for k, v in sorted(rule.get("labels", {}).items()))
                found.append((f"{path.name}: {name} {{{labels}}}", rule["expr"]))
    return found


EXPRESSIONS = dashboard_expressions() + rule_expressions()
ALERT_EXPRESSIONS = rule_expressions(alerts=True)
# PromQL words that are not series names.
PROMQL_WORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_SERIES_NAME = re.compile(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(?!\s*\(|[\w:])")


def series_names(expr: str) -> set[str]:
    """The series names an expression reads (functions, keywords and labels left out)."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _GROUPING.sub("", text)
    return {name for name in _SERIES_NAME.findall(text) if name.lower() not in PROMQL_WORDS}


def _prometheus_ready() -> str | None:
    """Why the check cannot run here, or None."""
    try:
        ready = httpx.get(f"{PROMETHEUS_URL}/-/ready", timeout=2.0)
        gateway = httpx.get(f"{BASE_URL}/healthz", timeout=2.0)
    except httpx.HTTPError as error:
        return f"no running stack ({type(error).__name__}); start one: uv run taskhub-stack up"
    if ready.status_code != 200 or gateway.status_code != 200:
        return f"stack not ready (Prometheus {ready.status_code}, gateway {gateway.status_code})"
    return None


def query(expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{PROMETHEUS_URL}/api/v1/query", params={"query": expr}, timeout=10.0)
    body = response.json()
    assert body.get("status") == "success", f"{expr!r}: {body.get('error', response.text)}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@pytest.fixture(scope="module")
def traffic() -> dict[str, int]:
    """Traffic with every rare event, then a wait until the slowest of them is visible."""
    reason = _prometheus_ready()
    if reason is not None:
        pytest.skip(reason)
    caused = exercise_signals(BASE_URL)
    assert caused["rejected"] == 1, "the 61st creation in a minute was not rejected"
    slowest = [
        "sum(rate(taskhub_rate_limit_rejections_total[5m]))",
        "sum(rate(taskhub_arq_jobs_total[5m]))",
        "sum(increase(taskhub_dead_letters_total[5m])) > 0",
        'sum(rate(taskhub_celery_tasks_total{outcome="failure"}[5m]))',
        "service:http_server_requests_4xx:rate1m",
    ]
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not all(query(expr) for expr in slowest):
        time.sleep(2.0)
    return caused


def test_the_dashboards_and_rules_have_expressions() -> None:
    assert DASHBOARDS, "no dashboard under infra/grafana/dashboards"
    assert len(dashboard_expressions()) >= 10
    assert rule_expressions()
    assert ALERT_EXPRESSIONS


def test_series_names_are_read_from_an_expression() -> None:
    expr = """
        sum by (server) (pg_stat_activity_count{state="idle"})
        / max by (server) (pg_settings_max_connections) > 0.8
        unless on () sum(increase(taskhub_celery_tasks_total{outcome=~"a|b"}[10m])) > 0
        or slo:delivery_stalled:ratio_rate1h > (14.4 * 0.01) and up == bool 0
    """
    assert series_names(expr) == {
        "pg_stat_activity_count",
        "pg_settings_max_connections",
        "taskhub_celery_tasks_total",
        "slo:delivery_stalled:ratio_rate1h",
        "up",
    }


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_expression_parses_and_returns_data(traffic: dict[str, int], where: str, expr: str) -> None:
    result = query(expr)
    if NEEDS_A_SERVER_ERROR.search(expr) and not result:
        pytest.skip("no service answered 5xx: nothing to show, which is the good case")
    assert result, f"{where}: {expr!r} returned no data after the traffic"


@pytest.mark.parametrize(
    ("where", "expr"), ALERT_EXPRESSIONS, ids=[w for w, _ in ALERT_EXPRESSIONS]
)
def test_alert_parses_and_reads_live_series(traffic: dict[str, int], where: str, expr: str) -> None:
    query(expr)  # parses and evaluates; firing or not is the promtool tests' business
    names = series_names(expr)
    assert names, f"{where}: no series name found in {expr!r}"
    for name in sorted(names):
        assert query(f'count(last_over_time({{__name__="{name}"}}[15m]))'), (
            f"{where}: reads {name}, which has no data"
        )

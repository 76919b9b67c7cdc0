"""Static checks of the Grafana dashboards (Grafana runs only in compose).

Every dashboard is valid JSON with a stable uid; every panel and query names a datasource
uid that is provisioned; the layout fits the 24-column grid without overlaps; the panels
the operators rely on exist; and every PromQL expression parses (through `promtool check
rules`, which needs no server). `test_promql.py` runs the same expressions for real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "infra" / "grafana" / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
DATASOURCES = REPO / "infra" / "grafana" / "provisioning" / "datasources" / "datasources.yml"
OVERVIEW = DASHBOARD_DIR / "taskhub-overview.json"
GRID_COLUMNS = 24
# What the overview must show (issue "Observability"): panel title -> metric it reads.
OVERVIEW_PANELS = {
    "Requests per second": "service:http_server_requests:rate1m",
    "Latency p50 / p95 / p99": "service:http_server_request_duration_seconds:p99_1m",
    "Latency by route p50 / p95 / p99": "http_route",
    "4xx per second": "service:http_server_requests_4xx:rate1m",
    "5xx per second": "service:http_server_requests_5xx:rate1m",
    "Celery task runs by outcome": "taskhub_celery_tasks_total",
    "ARQ job runs by outcome": "taskhub_arq_jobs_total",
    "Celery queue depth": "taskhub_celery_queue_depth",
    "Dead letters in the last hour": "taskhub_dead_letters_total",
    "Rate-limit rejections": "taskhub_rate_limit_rejections_total",
    "Outbox backlog": "taskhub_outbox_backlog",
    # What TaskHub stands on (issue "Operations you can page on").
    "Error-budget burn rate, 1 h": "slo:delivery_stalled:ratio_rate1h",
    "Connections per database": "pg_settings_max_connections",
    "Top statements by total time (last hour)": "pg_stat_statements_seconds_total",
    "Top statements by mean time": "pg_stat_statements_mean_seconds",
    "Queue lengths": "redis_key_size",
    "Gateway requests per second": "nginx_http_requests_total",
    "Gateway connections": "nginx_connections_active",
}


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, the ones nested in collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def provisioned_uids() -> dict[str, str]:
    """Datasource uid -> type, from the provisioning file."""
    sources = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    return {source["uid"]: source["type"] for source in sources}


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [
        target["expr"]
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def test_the_overview_exists() -> None:
    assert OVERVIEW in DASHBOARDS
    assert load(OVERVIEW)["title"] == "TaskHub overview"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_has_a_stable_identity(path: Path) -> None:
    dashboard = load(path)
    assert dashboard.get("uid")
    assert len(dashboard["uid"]) <= 40
    assert dashboard.get("title")
    # Provisioned dashboards are code: an `id` from an export would clash between instances.
    assert dashboard.get("id") is None
    assert isinstance(dashboard.get("schemaVersion"), int)


def test_dashboard_uids_and_titles_are_unique() -> None:
    uids = [load(path)["uid"] for path in DASHBOARDS]
    titles = [load(path)["title"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_every_query_names_a_provisioned_datasource(path: Path) -> None:
    known = provisioned_uids()
    for panel in panels(load(path)):
        if panel["type"] == "row":
            continue
        for owner in (panel, *panel.get("targets", [])):
            source = owner.get("datasource")
            assert isinstance(source, dict), f"{panel['title']}: no datasource object"
            assert source.get("uid") in known, f"{panel['title']}: unknown uid {source}"
            assert source.get("type") == known[source["uid"]], f"{panel['title']}: {source}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_panels_have_unique_ids_queries_and_refids(path: Path) -> None:
    seen_ids: set[int] = set()
    for panel in panels(load(path)):
        assert panel["id"] not in seen_ids, f"panel id {panel['id']} repeats"
        seen_ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        assert panel.get("title"), f"panel {panel['id']} has no title"
        targets = panel.get("targets", [])
        assert targets, f"{panel['title']}: no queries"
        ref_ids = [target["refId"] for target in targets]
        assert len(set(ref_ids)) == len(ref_ids), f"{panel['title']}: repeated refId"
        assert all(target.get("expr", "").strip() for target in targets), panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_layout_fits_the_grid_without_overlaps(path: Path) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in panels(load(path)):
        grid = panel["gridPos"]
        assert grid["w"] > 0, panel["title"]
        assert grid["h"] > 0, panel["title"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, f"{panel['title']} is wider than the grid"
        for column in range(grid["x"], grid["x"] + grid["w"]):
            for row in range(grid["y"], grid["y"] + grid["h"]):
                assert (column, row) not in taken, f"{panel['title']} overlaps {taken[column, row]}"
                taken[column, row] = panel["title"]


def test_the_overview_shows_what_operators_need() -> None:
    by_title = {panel["title"]: panel for panel in panels(load(OVERVIEW))}
    for title, metric in OVERVIEW_PANELS.items():
        assert title in by_title, f"no panel {title!r}"
        queries = " ".join(target["expr"] for target in by_title[title]["targets"])
        assert metric in queries, f"{title!r} does not read {metric}"


def test_every_expression_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: it comes with the prometheus package (apt)")
    rules = [
        {"record": f"dashboard:expression_{index}:check", "expr": expr}
        for path in DASHBOARDS
        for index, expr in enumerate(expressions(load(path)))
    ]
    rule_file = tmp_path / "dashboard-expressions.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    checked = subprocess.run(
        [promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

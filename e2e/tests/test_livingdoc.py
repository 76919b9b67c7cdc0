"""The living documentation: features, results, failures with their requests and logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from taskhub_e2e.report.livingdoc import RunInfo, load_features, render_living_doc
from taskhub_e2e.report.logs import matching_log_lines
from taskhub_e2e.report.results import ResultCollector, ScenarioRecord, ScenarioResult

FEATURE = """\
@area
Feature: Parcels
  Parcels travel from a sender to a receiver.

  Background:
    Given a depot

  Scenario: Send a parcel
    When Alice sends a parcel
    Then Bob receives it

  Scenario Outline: Weigh parcels
    When a parcel of <kg> kg is weighed
    Then it costs <price>

    Examples:
      | kg | price |
      | 1  | 5     |
      | 20 | 50    |

  @chaos
  Scenario: Lose a parcel <script>
    When the depot burns
"""

RUN = RunInfo(title="Doc", target="http://t", run_id="r1", seconds=3.5, started="now")


@pytest.fixture
def feature_file(tmp_path: Path) -> Path:
    path = tmp_path / "parcels.feature"
    path.write_text(FEATURE)
    return path


def record(feature: Path, line: int, name: str, **extra: Any) -> ScenarioRecord:
    base: ScenarioRecord = {"feature_file": str(feature), "scenario_line": line, "name": name}
    base.update(extra)  # type: ignore[typeddict-item]
    return base


def add(
    collector: ResultCollector, nodeid: str, when: str, outcome: str, data: ScenarioRecord
) -> None:
    collector.add(
        nodeid=nodeid,
        when=when,
        outcome=outcome,
        duration=0.5,
        longrepr=("f.py", 1, "Skipped: no stack here") if outcome == "skipped" else None,
        longreprtext="AssertionError: Bob got nothing" if outcome == "failed" else "",
        record=data,
    )


def failed_send(feature: Path) -> ScenarioRecord:
    steps = [
        {"keyword": "Given", "name": "a depot", "line": 6, "status": "passed", "duration": 0.1},
        {
            "keyword": "When",
            "name": "Alice sends a parcel",
            "line": 9,
            "status": "passed",
            "duration": 0.2,
        },
        {
            "keyword": "Then",
            "name": "Bob receives it",
            "line": 10,
            "status": "failed",
            "duration": 0.3,
        },
    ]
    exchange = {
        "method": "GET",
        "url": "http://t/parcels/1",
        "request_headers": {"authorization": "***"},
        "request_body": "",
        "status": 404,
        "response_headers": {"x-request-id": "req-42"},
        "response_body": '{"error": {"code": "NOT_FOUND"}}',
        "request_id": "req-42",
        "trace_id": "trace-7",
        "seconds": 0.01,
        "error": None,
    }
    return record(
        feature,
        8,
        "Send a parcel",
        steps=steps,
        exchanges=[exchange],
        logs={"task-svc.log": ['{"msg": "GET /parcels/1 404", "request_id": "req-42"}']},
    )


def test_the_page_documents_features_and_shows_each_result(feature_file: Path) -> None:
    collector = ResultCollector()
    add(collector, "t::send", "setup", "passed", record(feature_file, 8, "Send a parcel"))
    add(collector, "t::send", "call", "failed", failed_send(feature_file))
    add(
        collector,
        "t::weigh[1-5]",
        "call",
        "passed",
        record(feature_file, 12, "Weigh", example="1-5"),
    )
    add(collector, "t::lose", "setup", "skipped", record(feature_file, 22, "Lose"))

    html = render_living_doc(load_features([feature_file]), collector.results.values(), RUN)

    assert "Feature: Parcels" in html
    assert "Parcels travel from a sender to a receiver." in html
    assert "<h3>Background</h3>" in html
    assert '<span class="badge passed">1 passed</span>' in html
    assert '<span class="badge failed">1 failed</span>' in html
    # The failure names its step, the request, its ids, and the matching log line.
    assert "Failing step: Then Bob receives it (line 10)" in html
    assert "AssertionError: Bob got nothing" in html
    assert "X-Request-ID <code>req-42</code>, trace id <code>trace-7</code>" in html
    assert "task-svc.log" in html
    # The outline's rows: one ran, one did not.
    assert html.count('<span class="badge not-run">not run</span>') == 1
    assert "Skipped: no stack here" in html
    # Gherkin text is escaped, and the page loads nothing from elsewhere.
    assert "Lose a parcel &lt;script&gt;" in html
    assert "<script" not in html
    assert "src=" not in html
    assert "<link" not in html


def test_what_a_scenario_measured_is_shown_with_it(feature_file: Path) -> None:
    collector = ResultCollector()
    measured = record(feature_file, 8, "Send a parcel", figures={"delivery": "1.2 s <fast>"})
    add(collector, "t::send", "call", "passed", measured)

    html = render_living_doc(load_features([feature_file]), collector.results.values(), RUN)

    assert "<h4>Measured</h4>" in html
    assert "<tr><th>delivery</th><td>1.2 s &lt;fast&gt;</td></tr>" in html


def test_phases_fold_into_one_result(feature_file: Path) -> None:
    collector = ResultCollector()
    data = record(feature_file, 8, "Send a parcel")
    add(collector, "t::send", "setup", "passed", data)
    add(collector, "t::send", "call", "passed", data)
    add(collector, "t::send", "teardown", "failed", data)

    (result,) = collector.results.values()
    assert result.outcome == "failed"
    assert result.duration == pytest.approx(1.5)
    assert result.failure.startswith("[teardown] ")


def test_a_report_that_is_no_scenario_is_ignored() -> None:
    collector = ResultCollector()
    collector.add(
        nodeid="t::plain",
        when="call",
        outcome="passed",
        duration=1.0,
        longrepr=None,
        longreprtext="",
        record=None,
    )
    assert collector.results == {}


def test_slowest_lists_scenarios_that_ran_slowest_first() -> None:
    collector = ResultCollector()
    for name, seconds in (("a", 1.0), ("b", 3.0), ("c", 2.0)):
        collector.results[name] = ScenarioResult(name, "f", 1, name, duration=seconds)
    collector.results["skipped"] = ScenarioResult(
        "skipped", "f", 1, "s", duration=9.0, outcome="skipped"
    )

    assert [result.nodeid for result in collector.slowest(2)] == ["b", "c"]


def test_log_lines_are_found_by_request_id_in_every_log(tmp_path: Path) -> None:
    (tmp_path / "auth-svc.log").write_text('{"request_id": "r-1"}\n{"request_id": "r-2"}\n')
    (tmp_path / "gateway.log").write_text('{"request_id": "r-1", "status": 500}\n')
    (tmp_path / "redis.log").write_text("nothing to see\n")

    found = matching_log_lines(tmp_path, ["r-1"])

    assert found == {
        "auth-svc.log": ['{"request_id": "r-1"}'],
        "gateway.log": ['{"request_id": "r-1", "status": 500}'],
    }
    assert matching_log_lines(tmp_path, []) == {}
    assert matching_log_lines(tmp_path / "missing", ["r-1"]) == {}

"""The e2e plugin's reports: each scenario's steps, requests, figures and attachments,
gathered on the controller into `reports/living-doc.html` and the slowest scenarios."""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from taskhub_e2e.plugin.options import MARKERS, RUN_ID_KEY, get_target
from taskhub_e2e.recording import ExchangeLog
from taskhub_e2e.report.livingdoc import RunInfo, load_features, render_living_doc
from taskhub_e2e.report.logs import matching_log_lines
from taskhub_e2e.report.results import (
    REPORT_ATTRIBUTE,
    ResultCollector,
    ScenarioRecord,
    StepRecord,
    crash_message,
)
from taskhub_e2e.target import Capability

LIVING_DOC = "living-doc.html"
SLOWEST_COUNT = 10

# What a scenario's fixtures and hooks leave on its item for the report.
STEPS_KEY = pytest.StashKey["StepTracker"]()
EXCHANGES_KEY = pytest.StashKey[ExchangeLog]()
ATTACHMENTS_KEY = pytest.StashKey[list[str]]()
FIGURES_KEY = pytest.StashKey[dict[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is None:
        config.pluginmanager.register(SuiteReporter(config), "taskhub-suite-reporter")


# --- step tracking (for the living doc) ----------------------------------------------------


class StepTracker:
    """The steps of one scenario with their status and duration, in order."""

    def __init__(self, steps: list[Any]) -> None:
        self.records: list[StepRecord] = [
            {
                "keyword": step.keyword.strip(),
                "name": step.name,
                "line": step.line_number,
                "status": "not run",
                "duration": 0.0,
            }
            for step in steps
        ]
        self.index = -1
        self.started = 0.0

    def begin(self) -> None:
        self.index += 1
        self.started = time.perf_counter()

    def end(self, *, failed: bool) -> None:
        if 0 <= self.index < len(self.records):
            record = self.records[self.index]
            record["status"] = "failed" if failed else "passed"
            record["duration"] = round(time.perf_counter() - self.started, 4)


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, scenario: Any) -> None:
    request.node.stash[STEPS_KEY] = StepTracker(scenario.steps)


def pytest_bdd_before_step(request: pytest.FixtureRequest) -> None:
    request.node.stash[STEPS_KEY].begin()


def pytest_bdd_after_step(request: pytest.FixtureRequest) -> None:
    request.node.stash[STEPS_KEY].end(failed=False)


def pytest_bdd_step_error(request: pytest.FixtureRequest) -> None:
    request.node.stash[STEPS_KEY].end(failed=True)


# --- reports ---------------------------------------------------------------------------


def scenario_identity(item: pytest.Item) -> ScenarioRecord | None:
    """Feature file, scenario line and rendered name of a pytest-bdd item, else None."""
    from pytest_bdd.scenario import scenario_wrapper_template_registry

    function = getattr(item, "function", None)
    template = scenario_wrapper_template_registry.get(function) if function else None
    if template is None:
        return None
    callspec = getattr(item, "callspec", None)
    example: dict[str, str] = callspec.params.get("_pytest_bdd_example", {}) if callspec else {}
    return {
        "feature_file": template.feature.filename,
        "scenario_line": template.line_number,
        "name": template.render(example).name,
        "example": "-".join(example.values()),
        "tags": sorted(marker.name for marker in item.iter_markers() if marker.name in MARKERS),
    }


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    record = scenario_identity(item)
    if record is not None:
        _add_details(item, report, record)
        setattr(report, REPORT_ATTRIBUTE, record)
    _carry_bdd_context(report)
    return report


def _add_details(item: pytest.Item, report: pytest.TestReport, record: ScenarioRecord) -> None:
    tracker = item.stash.get(STEPS_KEY, None)
    if tracker is not None and report.when == "call":
        record["steps"] = tracker.records
    # The requests once per scenario: with the call, or with a setup that failed.
    if report.when == "call" or (report.failed and report.when == "setup"):
        log = item.stash.get(EXCHANGES_KEY, None)
        if log is not None:
            record["exchanges"] = [exchange.to_dict() for exchange in log.exchanges]
            target = get_target(item.config)
            if report.failed and target.has(Capability.LOGS) and target.log_dir:
                record["logs"] = matching_log_lines(target.log_dir, log.request_ids())
        files: list[str] = item.stash.get(ATTACHMENTS_KEY, [])
        record["attachments"] = list(files)
        measured: dict[str, str] = item.stash.get(FIGURES_KEY, {})
        record["figures"] = dict(measured)


BDD_CONTEXT_ATTRIBUTE = "taskhub_bdd_context"


def _carry_bdd_context(report: pytest.TestReport) -> None:
    """Send pytest-bdd's per-report scenario data along with the report under xdist.

    pytest-bdd keeps it in a process-local registry, so on the xdist controller its
    Cucumber JSON writer finds nothing; `SuiteReporter` puts it back there.
    """
    from pytest_bdd.reporting import test_report_context_registry

    context = test_report_context_registry.get(report)
    if context is not None:
        setattr(report, BDD_CONTEXT_ATTRIBUTE, {"scenario": context.scenario, "name": context.name})


class SuiteReporter:
    """Controller-side: gathers results, writes the living doc, prints the slowest scenarios."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.collector = ResultCollector()
        self.started = time.time()
        self.living_doc: Path | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._restore_bdd_context(report)
        self.collector.add(
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            duration=report.duration,
            longrepr=report.longrepr,
            longreprtext=report.longreprtext if report.failed else "",
            record=getattr(report, REPORT_ATTRIBUTE, None),
            crash=crash_message(report.longrepr) if report.failed else "",
        )

    @staticmethod
    def _restore_bdd_context(report: pytest.TestReport) -> None:
        from pytest_bdd.reporting import ReportContext, test_report_context_registry

        carried = getattr(report, BDD_CONTEXT_ATTRIBUTE, None)
        if carried is not None and report not in test_report_context_registry:
            test_report_context_registry[report] = ReportContext(
                scenario=carried["scenario"], name=carried["name"]
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.collector.results:
            return
        reports_dir = Path(self.config.option.reports_dir)
        reports_dir.mkdir(parents=True, exist_ok=True)
        feature_files = {Path(result.feature_file) for result in self.collector.results.values()}
        features_dir = self.config.rootpath / "features"
        if features_dir.is_dir():
            feature_files |= set(features_dir.rglob("*.feature"))
        run = RunInfo(
            title="TaskHub living documentation",
            target=get_target(self.config).describe(),
            run_id=self.config.stash[RUN_ID_KEY],
            seconds=time.time() - self.started,
            started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started)),
        )
        html = render_living_doc(
            load_features(sorted(feature_files)), self.collector.results.values(), run
        )
        self.living_doc = reports_dir / LIVING_DOC
        self.living_doc.write_text(html, encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.collector.results:
            return
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "TaskHub e2e")
        counts = self.collector.counts()
        write(
            f"{len(self.collector.results)} scenarios in {time.time() - self.started:.1f} s: "
            + ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
        )
        write(f"slowest {SLOWEST_COUNT} scenarios:")
        for result in self.collector.slowest(SLOWEST_COUNT):
            write(f"  {result.duration:7.2f} s  {result.outcome:7}  {result.nodeid}")
        if self.living_doc is not None:
            write(f"living documentation: {self.living_doc}")

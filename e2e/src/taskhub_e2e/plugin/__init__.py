"""The pytest plugin of the e2e suite: target options, tags, fixtures, and the reports.

Loaded by `e2e/scenarios/conftest.py` (or `-p taskhub_e2e.plugin`). It registers the step
modules, decides per scenario whether the target can run it, records each scenario's
requests and steps, and writes `reports/living-doc.html` once the run is over.
"""

from __future__ import annotations

import os
import pkgutil
import re
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskhub_e2e import steps
from taskhub_e2e.actors import Cast
from taskhub_e2e.chaos import Chaos
from taskhub_e2e.client import MissingRouteHook, Route, Service, TaskHubClient, error_code
from taskhub_e2e.people import DEFAULT_EMAIL_DOMAIN, IdentityFactory, new_run_id
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
from taskhub_e2e.target import (
    DEFAULT_BASE_URL,
    DEFAULT_CHROMIUM,
    TAG_CAPABILITIES,
    Capability,
    Credentials,
    Target,
    TargetOptions,
    detect_target,
)
from taskhub_stack.native import NativeStack

# Every module of `taskhub_e2e.steps` is a step library: a new area needs only a new module.
pytest_plugins = [
    f"{steps.__name__}.{module.name}" for module in pkgutil.iter_modules(steps.__path__)
]

MARKERS = {
    "smoke": "the quick subset: is the deployment alive and basically working",
    "security": "proves a security property (access control, tokens, limits)",
    "chaos": "stops and starts services (needs process-control; runs serially)",
    "observability": "metrics, logs and traces",
    "slow": "takes more than a few seconds",
    "browser": "drives a headless Chromium (needs browser)",
    "logs": "reads the services' log files (needs logs)",
    "metrics": "queries Prometheus (needs metrics)",
    "outside": "only true for a client on a public network (needs outside)",
    "trusted": "only true for a client on a trusted network (needs trusted-network)",
    "admin": "needs the bootstrap admin's credentials",
    "webhooks": "notify-svc calls the suite's webhook receiver (needs webhooks)",
    "scale": "several instances of every service behave as one (needs replicas)",
    "gateway": "feature area: the gateway",
    "auth": "feature area: accounts and sign-in",
    "docs": "feature area: the API documentation",
    "tasks": "feature area: tasks",
    "notifications": "feature area: notifications",
    "flagship": "the whole TaskHub flow, end to end",
}
LIVING_DOC = "living-doc.html"
SLOWEST_COUNT = 10

TARGET_KEY = pytest.StashKey[Target]()
RUN_ID_KEY = pytest.StashKey[str]()
STEPS_KEY = pytest.StashKey["StepTracker"]()
EXCHANGES_KEY = pytest.StashKey[ExchangeLog]()
ATTACHMENTS_KEY = pytest.StashKey[list[str]]()
FIGURES_KEY = pytest.StashKey[dict[str, str]]()


# --- options and configuration -----------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("taskhub", "TaskHub end-to-end suite")
    group.addoption(
        "--base-url",
        default=None,
        help=f"gateway URL (env TASKHUB_BASE_URL; default {DEFAULT_BASE_URL})",
    )
    group.addoption(
        "--prometheus-url",
        default=None,
        help="Prometheus URL (env TASKHUB_PROMETHEUS_URL; natively the stack's own)",
    )
    group.addoption(
        "--chromium",
        default=None,
        help=f"Chromium executable (env TASKHUB_CHROMIUM; default {DEFAULT_CHROMIUM})",
    )
    group.addoption(
        "--client-outside",
        action="store_true",
        help="the suite runs from a public address (enables @outside scenarios)",
    )
    group.addoption(
        "--without",
        action="append",
        default=[],
        choices=[capability.value for capability in Capability],
        help="treat the target as lacking a capability (repeatable)",
    )
    group.addoption(
        "--max-body-bytes",
        type=int,
        default=1024 * 1024,
        help="the gateway's body size limit (default 1 MiB)",
    )
    group.addoption(
        "--email-domain",
        default=None,
        help=f"domain of the users' e-mails (env TASKHUB_E2E_EMAIL_DOMAIN; "
        f"default {DEFAULT_EMAIL_DOMAIN})",
    )
    group.addoption(
        "--skip-unbuilt",
        action="store_true",
        help="skip a scenario when a contract route is absent from its service's OpenAPI "
        "(for services still being built; never in CI)",
    )
    group.addoption(
        "--reports-dir",
        default="reports",
        help="where the living documentation and screenshots go (default reports/)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    config.stash[RUN_ID_KEY] = (workerinput or {}).get("taskhub_run_id") or new_run_id()
    if workerinput is None:
        config.pluginmanager.register(SuiteReporter(config), "taskhub-suite-reporter")
        # pytest-bdd writes its Cucumber JSON into an existing folder only.
        cucumber = getattr(config.option, "cucumber_json_path", None)
        if cucumber:
            Path(cucumber).expanduser().absolute().parent.mkdir(parents=True, exist_ok=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker uses the controller's run id, so e-mails name one run."""
    node.workerinput["taskhub_run_id"] = node.config.stash[RUN_ID_KEY]


def target_options(config: pytest.Config) -> TargetOptions:
    option = config.option
    return TargetOptions(
        base_url=option.base_url or os.environ.get("TASKHUB_BASE_URL") or DEFAULT_BASE_URL,
        prometheus_url=option.prometheus_url or os.environ.get("TASKHUB_PROMETHEUS_URL"),
        chromium=option.chromium or os.environ.get("TASKHUB_CHROMIUM") or DEFAULT_CHROMIUM,
        client_outside=option.client_outside,
        without=frozenset(Capability(value) for value in option.without),
        max_body_bytes=option.max_body_bytes,
    )


def get_target(config: pytest.Config) -> Target:
    """The target, probed once per process."""
    if TARGET_KEY not in config.stash:
        config.stash[TARGET_KEY] = detect_target(target_options(config))
    return config.stash[TARGET_KEY]


def worker_name(config: pytest.Config) -> str:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else "main"


def worker_count(config: pytest.Config) -> int:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return int(workerinput["workercount"]) if workerinput else 1


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = get_target(config)
    lines = [f"taskhub target: {target.describe()}", f"taskhub run id: {config.stash[RUN_ID_KEY]}"]
    lines.extend(f"  without {cap}: {why}" for cap, why in sorted(target.missing.items()))
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip what the target cannot run, with the reason, before anything starts."""
    target = get_target(config)
    for item in items:
        for tag, capability in TAG_CAPABILITIES.items():
            if item.get_closest_marker(tag) and not target.has(capability):
                reason = f"@{tag} needs {capability}: {target.missing[capability]}"
                item.add_marker(pytest.mark.skip(reason=reason))
        if item.get_closest_marker("chaos") and worker_count(config) > 1:
            # Stopping a service would fail whatever other workers are doing meanwhile.
            item.add_marker(
                pytest.mark.skip(reason="@chaos runs serially: use `-m chaos` without -n")
            )


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return get_target(pytestconfig)


@pytest.fixture(scope="session")
def identities(pytestconfig: pytest.Config) -> IdentityFactory:
    domain = (
        pytestconfig.option.email_domain
        or os.environ.get("TASKHUB_E2E_EMAIL_DOMAIN")
        or DEFAULT_EMAIL_DOMAIN
    )
    return IdentityFactory(pytestconfig.stash[RUN_ID_KEY], worker_name(pytestconfig), domain)


@pytest.fixture(scope="session")
def reports_dir(pytestconfig: pytest.Config) -> Path:
    path = Path(pytestconfig.option.reports_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


class OpenApiCatalog:
    """The routes each service documents, fetched once, to tell unbuilt from broken."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._paths: dict[Service, set[str]] = {}

    def knows(self, route: Route) -> bool:
        if route.service not in self._paths:
            self._paths[route.service] = self._fetch(route.service)
        return _shape(route.template) in self._paths[route.service]

    def _fetch(self, service: Service) -> set[str]:
        try:
            spec = httpx.get(f"{self.base_url}/{service}/openapi.json", timeout=5.0).json()
        except (httpx.HTTPError, ValueError):
            return set()
        return {_shape(path) for path in spec.get("paths", {})}


def _shape(template: str) -> str:
    """A path template with its parameter names erased: `/a/{id}` and `/a/{x}` match."""
    return re.sub(r"\{[^}]+\}", "{}", template.rstrip("/"))


@pytest.fixture(scope="session")
def openapi_catalog(target: Target) -> OpenApiCatalog:
    return OpenApiCatalog(target.base_url)


@pytest.fixture
def exchange_log(request: pytest.FixtureRequest) -> ExchangeLog:
    log = ExchangeLog()
    request.node.stash[EXCHANGES_KEY] = log
    return log


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> dict[str, str]:
    """What this scenario measured (`figures["drain after the outage"] = "1.2 s"`): shown
    with it in the living doc, so a chaos scenario reports its figure, not only pass/fail."""
    measured: dict[str, str] = {}
    request.node.stash[FIGURES_KEY] = measured
    return measured


@pytest.fixture
def attachments(request: pytest.FixtureRequest) -> list[str]:
    """Files (relative to the reports folder) the living doc links from this scenario."""
    files: list[str] = []
    request.node.stash[ATTACHMENTS_KEY] = files
    return files


@pytest.fixture
def api(
    pytestconfig: pytest.Config,
    target: Target,
    exchange_log: ExchangeLog,
    identities: IdentityFactory,
    openapi_catalog: OpenApiCatalog,
) -> Iterator[TaskHubClient]:
    on_missing: MissingRouteHook | None = None
    if pytestconfig.option.skip_unbuilt:

        def on_missing(route: Route, response: httpx.Response) -> None:
            if error_code(response) == "NOT_FOUND" and not openapi_catalog.knows(route):
                pytest.skip(f"{route.service} does not offer {route} yet (--skip-unbuilt)")

    with TaskHubClient(
        target.base_url,
        exchange_log,
        request_id_prefix=identities.request_id_prefix(),
        on_missing_route=on_missing,
    ) as client:
        yield client


@pytest.fixture
def cast(identities: IdentityFactory, api: TaskHubClient) -> Cast:
    return Cast(identities, api)


@pytest.fixture
def admin_credentials(target: Target) -> Credentials:
    if target.admin is None:
        pytest.skip(target.admin_missing)
    return target.admin


@pytest.fixture
def native_stack(target: Target) -> NativeStack:
    if target.stack is None:
        why = target.missing.get(Capability.PROCESS_CONTROL, "")
        pytest.skip(f"needs {Capability.PROCESS_CONTROL}: {why}")
    return target.stack


@pytest.fixture
def chaos(native_stack: NativeStack) -> Iterator[Chaos]:
    """Stops programs for one scenario and starts them again afterwards, pass or fail."""
    control = Chaos(native_stack)
    yield control
    control.restore()


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

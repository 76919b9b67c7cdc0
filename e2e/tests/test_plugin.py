"""The plugin end to end: a small feature run by pytest against a stub gateway.

Checks what a user of the suite relies on: capability skips with reasons, the living doc
with the failing request, Cucumber JSON and results gathered from xdist workers, the
slowest-scenarios summary, and strict tags.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from taskhub_e2e.stub_gateway import StubGateway, stub_gateway

pytest_plugins = ["pytester"]

FEATURE = """\
Feature: Front door
  The stub gateway stands in for TaskHub.

  @smoke
  Scenario: Healthy
    When a visitor checks the health of the gateway
    Then the gateway reports that it is healthy

  Scenario: Wrongly expects health where nothing is
    When a visitor asks for an address TaskHub does not have
    Then the gateway reports that it is healthy

  @chaos
  Scenario: Needs to stop a service
    Given the notify service is down

  Scenario Outline: Services
    When a visitor checks the health of the <service> service
    Then the <service> service reports that it is healthy

    Examples:
      | service |
      | auth    |
      | tasks   |
"""


@pytest.fixture
def gateway() -> Iterator[StubGateway]:
    with stub_gateway() as stub:
        yield stub


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".feature", front=FEATURE)
    pytester.makeconftest('pytest_plugins = ["taskhub_e2e.plugin"]')
    pytester.makepyfile(
        test_front='from pytest_bdd import scenarios\n\nscenarios("front.feature")\n'
    )
    return pytester


def run(project: pytest.Pytester, gateway: StubGateway, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess(
        "--base-url",
        gateway.url,
        "--strict-markers",
        "--without",
        "browser",
        f"--cucumberjson={project.path / 'reports' / 'cucumber.json'}",
        *args,
    )


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_run_reports_every_scenario(
    project: pytest.Pytester, gateway: StubGateway, workers: list[str]
) -> None:
    result = run(project, gateway, *workers)

    result.assert_outcomes(passed=3, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*5 scenarios in * s: 3 passed, 1 failed, 1 skipped*",
            "*slowest 10 scenarios:*",
            "*living documentation: reports/living-doc.html*",
        ]
    )
    html = (project.path / "reports" / "living-doc.html").read_text()
    assert "Feature: Front door" in html
    assert "@chaos needs process-control" in html
    assert "Failing step: Then the gateway reports that it is healthy" in html
    failing = next(r for r in gateway.received if r.path.startswith("/no-such-place"))
    assert f"X-Request-ID <code>{failing.headers['X-Request-ID']}</code>" in html
    cucumber = json.loads((project.path / "reports" / "cucumber.json").read_text())
    scenarios = [element["name"] for feature in cucumber for element in feature["elements"]]
    assert sorted(scenarios) == [
        "Healthy",
        "Services",
        "Services",
        "Wrongly expects health where nothing is",
    ]


def test_every_worker_names_users_after_the_same_run(
    project: pytest.Pytester, gateway: StubGateway
) -> None:
    result = run(project, gateway, "-n", "2", "-m", "not chaos")

    result.assert_outcomes(passed=3, failed=1)
    ids = {r.headers["X-Request-ID"].rsplit("-", 3)[0] for r in gateway.received}
    assert len(ids) == 1, f"more than one run id: {ids}"


def test_smoke_selects_the_quick_subset(project: pytest.Pytester, gateway: StubGateway) -> None:
    run(project, gateway, "-m", "smoke").assert_outcomes(passed=1, deselected=4)


def test_a_tag_that_is_no_registered_marker_is_refused(
    project: pytest.Pytester, gateway: StubGateway
) -> None:
    project.makefile(".feature", front=FEATURE.replace("@smoke", "@smokey"))

    result = run(project, gateway)

    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'smokey' not found in `markers` configuration option*"])

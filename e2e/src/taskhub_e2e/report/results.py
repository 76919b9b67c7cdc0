"""Scenario results gathered from pytest's reports, on the controller, xdist or not.

Workers attach a plain dict (`ScenarioRecord`) to each phase report; xdist carries report
attributes to the controller, which folds the setup/call/teardown phases into one result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

Outcome = Literal["passed", "failed", "skipped"]
StepStatus = Literal["passed", "failed", "not run"]
# The attribute of a pytest report that carries the record (must survive xdist's JSON).
REPORT_ATTRIBUTE = "taskhub_scenario"
MAX_FAILURE_CHARS = 6000


class StepRecord(TypedDict):
    keyword: str
    name: str
    line: int
    status: StepStatus
    duration: float


class ScenarioRecord(TypedDict, total=False):
    """What a worker knows about one phase of one scenario."""

    feature_file: str
    scenario_line: int
    name: str
    example: str
    tags: list[str]
    steps: list[StepRecord]
    exchanges: list[dict[str, Any]]
    logs: dict[str, list[str]]
    attachments: list[str]
    figures: dict[str, str]


@dataclass
class ScenarioResult:
    nodeid: str
    feature_file: str
    scenario_line: int
    name: str
    example: str = ""
    tags: list[str] = field(default_factory=list)
    outcome: Outcome = "passed"
    duration: float = 0.0
    steps: list[StepRecord] = field(default_factory=list)
    skip_reason: str = ""
    # The one-line cause (pytest's "E ..." line) and the full traceback.
    failure_message: str = ""
    failure: str = ""
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, list[str]] = field(default_factory=dict)
    attachments: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{self.name} [{self.example}]" if self.example else self.name


def crash_message(longrepr: object) -> str:
    """The final error line of a failure (`longrepr.reprcrash.message`), when pytest has one."""
    crash = getattr(longrepr, "reprcrash", None)
    return str(getattr(crash, "message", "") or "")


def skip_reason(longrepr: object) -> str:
    """The reason of a skip: pytest keeps it as (path, line, "Skipped: reason")."""
    if isinstance(longrepr, tuple | list) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


class ResultCollector:
    """Folds phase reports into one `ScenarioResult` per scenario, in arrival order."""

    def __init__(self) -> None:
        self.results: dict[str, ScenarioResult] = {}

    def add(
        self,
        *,
        nodeid: str,
        when: str,
        outcome: str,
        duration: float,
        longrepr: object,
        longreprtext: str,
        record: ScenarioRecord | None,
        crash: str = "",
    ) -> None:
        if record is None:
            return  # not a scenario (or a scenario that never reached collection)
        result = self.results.get(nodeid)
        if result is None:
            result = ScenarioResult(
                nodeid=nodeid,
                feature_file=record["feature_file"],
                scenario_line=record["scenario_line"],
                name=record["name"],
                example=record.get("example", ""),
                tags=list(record.get("tags", [])),
            )
            self.results[nodeid] = result
        result.duration += duration
        if record.get("steps"):
            result.steps = list(record["steps"])
        result.exchanges.extend(record.get("exchanges", []))
        result.logs.update(record.get("logs", {}))
        result.attachments.extend(record.get("attachments", []))
        result.figures.update(record.get("figures", {}))
        self._apply_outcome(result, when, outcome, longrepr, longreprtext)
        if outcome == "failed" and crash and not result.failure_message:
            result.failure_message = crash

    @staticmethod
    def _apply_outcome(
        result: ScenarioResult, when: str, outcome: str, longrepr: object, text: str
    ) -> None:
        if outcome == "failed":
            result.outcome = "failed"
            prefix = "" if when == "call" else f"[{when}] "
            result.failure += prefix + text[-MAX_FAILURE_CHARS:]
        elif outcome == "skipped" and result.outcome != "failed":
            result.outcome = "skipped"
            result.skip_reason = skip_reason(longrepr)

    def slowest(self, count: int = 10) -> list[ScenarioResult]:
        ran = [result for result in self.results.values() if result.outcome != "skipped"]
        return sorted(ran, key=lambda result: result.duration, reverse=True)[:count]

    def counts(self) -> dict[Outcome, int]:
        counts: dict[Outcome, int] = {"passed": 0, "failed": 0, "skipped": 0}
        for result in self.results.values():
            counts[result.outcome] += 1
        return counts

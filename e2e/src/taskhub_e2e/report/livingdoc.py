"""The living documentation: the feature files as a readable page, with this run's results.

One self-contained HTML file (inline CSS, no scripts, no external assets). A failing
scenario shows its failing step, the error, every request it made (with X-Request-ID and
trace id) and the log lines of every service that mention those requests.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from taskhub_e2e.report.results import ScenarioResult

Status = str  # "passed" | "failed" | "skipped" | "not run"


@dataclass(frozen=True)
class StepDoc:
    keyword: str
    name: str
    line: int


@dataclass(frozen=True)
class ScenarioDoc:
    keyword: str
    name: str
    line: int
    tags: list[str]
    description: str
    steps: list[StepDoc]
    # One (header, rows) per Examples table of a Scenario Outline.
    examples: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)


@dataclass(frozen=True)
class FeatureDoc:
    path: str
    name: str
    description: str
    tags: list[str]
    background: list[StepDoc]
    scenarios: list[ScenarioDoc]


@dataclass(frozen=True)
class RunInfo:
    title: str
    target: str
    run_id: str
    seconds: float
    started: str


def load_features(paths: Iterable[Path]) -> list[FeatureDoc]:
    """Parse feature files with pytest-bdd's (official Gherkin) parser."""
    from pytest_bdd.feature import get_features

    docs = []
    for feature in get_features([str(path) for path in paths]):
        background = feature.background.steps if feature.background else []
        docs.append(
            FeatureDoc(
                path=os.path.realpath(feature.filename),
                name=feature.name,
                description=feature.description,
                tags=sorted(feature.tags),
                background=[_step(step) for step in background],
                scenarios=[_scenario(template) for template in feature.scenarios.values()],
            )
        )
    return docs


def _step(step: Any) -> StepDoc:
    return StepDoc(keyword=step.keyword.strip(), name=step.name, line=step.line_number)


def _scenario(template: Any) -> ScenarioDoc:
    return ScenarioDoc(
        keyword=template.keyword,
        name=template.name,
        line=template.line_number,
        tags=sorted(template.tags),
        description=template.description or "",
        steps=[_step(step) for step in template._steps],
        examples=[
            (list(examples.example_params), [list(row) for row in examples.examples])
            for examples in template.examples
            if examples
        ],
    )


def scenario_status(results: Sequence[ScenarioResult]) -> Status:
    outcomes = {result.outcome for result in results}
    for status in ("failed", "passed", "skipped"):
        if status in outcomes:
            return status
    return "not run"


def render_living_doc(
    features: Sequence[FeatureDoc], results: Iterable[ScenarioResult], run: RunInfo
) -> str:
    by_scenario: dict[tuple[str, int], list[ScenarioResult]] = defaultdict(list)
    for result in results:
        by_scenario[(os.path.realpath(result.feature_file), result.scenario_line)].append(result)
    all_results = [result for group in by_scenario.values() for result in group]
    body = [_summary(run, all_results)]
    body.append(_contents(features, by_scenario))
    body.extend(_feature(feature, by_scenario) for feature in features)
    return PAGE.format(title=escape(run.title), css=CSS, body="\n".join(body))


def _summary(run: RunInfo, results: Sequence[ScenarioResult]) -> str:
    counts = dict.fromkeys(("passed", "failed", "skipped"), 0)
    for result in results:
        counts[result.outcome] += 1
    badges = " ".join(
        f'<span class="badge {status}">{count} {status}</span>' for status, count in counts.items()
    )
    return (
        f"<header><h1>{escape(run.title)}</h1>"
        f"<p>{badges}</p>"
        f"<p>Target: <code>{escape(run.target)}</code><br>Run <code>{escape(run.run_id)}</code>, "
        f"started {escape(run.started)}, {run.seconds:.1f} s in total.</p></header>"
    )


def _contents(
    features: Sequence[FeatureDoc], by_scenario: dict[tuple[str, int], list[ScenarioResult]]
) -> str:
    rows = []
    for feature in features:
        statuses = [
            scenario_status(by_scenario.get((feature.path, scenario.line), []))
            for scenario in feature.scenarios
        ]
        marks = "".join(f'<span class="dot {_css(status)}"></span>' for status in statuses)
        rows.append(f'<li><a href="#{_anchor(feature)}">{escape(feature.name)}</a> {marks}</li>')
    return f"<nav><h2>Features</h2><ul>{''.join(rows)}</ul></nav>"


def _feature(feature: FeatureDoc, by_scenario: dict[tuple[str, int], list[ScenarioResult]]) -> str:
    parts = [
        f'<section class="feature" id="{_anchor(feature)}">',
        f"{_tags(feature.tags)}<h2>Feature: {escape(feature.name)}</h2>",
        f'<p class="file">{escape(os.path.relpath(feature.path))}</p>',
    ]
    if feature.description:
        parts.append(f'<div class="description">{_paragraphs(feature.description)}</div>')
    if feature.background:
        steps = "".join(_step_line(step, None) for step in feature.background)
        parts.append(f'<div class="background"><h3>Background</h3><ul>{steps}</ul></div>')
    for scenario in feature.scenarios:
        parts.append(_scenario_block(scenario, by_scenario.get((feature.path, scenario.line), [])))
    parts.append("</section>")
    return "\n".join(parts)


def _anchor(feature: FeatureDoc) -> str:
    return "feature-" + re.sub(r"[^a-z0-9]+", "-", Path(feature.path).stem.lower())


def _scenario_block(scenario: ScenarioDoc, results: list[ScenarioResult]) -> str:
    status = scenario_status(results)
    seconds = sum(result.duration for result in results)
    only = results[0] if len(results) == 1 and not scenario.examples else None
    steps = "".join(_step_line(step, only) for step in scenario.steps)
    parts = [
        f'<details class="scenario {_css(status)}"{" open" if status == "failed" else ""}>',
        f'<summary><span class="badge {_css(status)}">{status}</span> '
        f"{escape(scenario.keyword)}: {escape(scenario.name)} "
        f'<span class="time">{seconds:.2f} s</span> {_tags(scenario.tags)}</summary>',
    ]
    if scenario.description:
        parts.append(f'<div class="description">{_paragraphs(scenario.description)}</div>')
    parts.append(f'<ul class="steps">{steps}</ul>')
    for header, rows in scenario.examples:
        parts.append(_examples(header, rows, results))
    parts.extend(_skip_note(result) for result in results if result.outcome == "skipped")
    parts.extend(_failure(result) for result in results if result.outcome == "failed")
    parts.extend(_figures(result) for result in results if result.figures)
    parts.extend(_attachments(result) for result in results if result.attachments)
    parts.append("</details>")
    return "\n".join(parts)


def _step_line(step: StepDoc, result: ScenarioResult | None) -> str:
    status, seconds = "", ""
    if result is not None:
        ran = next((record for record in result.steps if record["line"] == step.line), None)
        if ran is not None:
            status = _css(ran["status"])
            seconds = f' <span class="time">{ran["duration"]:.3f} s</span>'
    return (
        f'<li class="step {status}"><b>{escape(step.keyword)}</b> {escape(step.name)}{seconds}</li>'
    )


def _examples(header: list[str], rows: list[list[str]], results: list[ScenarioResult]) -> str:
    by_example = {result.example: result for result in results}
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = []
    for row in rows:
        result = by_example.get("-".join(row))
        status = result.outcome if result else "not run"
        cells = "".join(f"<td>{escape(cell)}</td>" for cell in row)
        seconds = f"{result.duration:.2f} s" if result else ""
        body.append(
            f'<tr class="{_css(status)}">{cells}<td><span class="badge {_css(status)}">'
            f"{status}</span></td><td>{seconds}</td></tr>"
        )
    return (
        f'<table class="examples"><tr>{head}<th>result</th><th>time</th></tr>'
        f"{''.join(body)}</table>"
    )


def _skip_note(result: ScenarioResult) -> str:
    label = f" [{escape(result.example)}]" if result.example else ""
    return f'<p class="skip">Skipped{label}: {escape(result.skip_reason)}</p>'


def _failure(result: ScenarioResult) -> str:
    failed_step = next((step for step in result.steps if step["status"] == "failed"), None)
    where = (
        f"{escape(failed_step['keyword'])} {escape(failed_step['name'])} "
        f"(line {failed_step['line']})"
        if failed_step
        else "outside the steps (fixture or hook)"
    )
    parts = [
        '<div class="failure">',
        f"<h4>Failed: {escape(result.title)}</h4>",
        f"<p>Failing step: {where}</p>",
        f'<pre class="crash">{escape(result.failure_message or result.failure[-500:])}</pre>',
        f"<details><summary>Traceback</summary><pre>{escape(result.failure)}</pre></details>",
    ]
    if result.exchanges:
        parts.append("<h4>Requests of this scenario (latest last)</h4>")
        last = len(result.exchanges) - 1
        parts.extend(
            _exchange(exchange, open_=index == last)
            for index, exchange in enumerate(result.exchanges)
        )
    for log_file, lines in result.logs.items():
        parts.append(
            f"<h4>{escape(log_file)}: lines with these request ids</h4>"
            f'<pre class="log">{escape(chr(10).join(lines))}</pre>'
        )
    parts.append("</div>")
    return "\n".join(parts)


def _exchange(exchange: dict[str, Any], *, open_: bool) -> str:
    status = exchange.get("status")
    outcome = exchange.get("error") or str(status)
    css = "failed" if exchange.get("error") or (status or 0) >= 400 else "passed"
    return (
        f'<details class="exchange"{" open" if open_ else ""}><summary>'
        f'<span class="badge {css}">{escape(outcome)}</span> '
        f"<code>{escape(exchange['method'])} {escape(exchange['url'])}</code> "
        f'<span class="time">{exchange.get("seconds", 0):.3f} s</span></summary>'
        f"<p>X-Request-ID <code>{escape(str(exchange.get('request_id')))}</code>, "
        f"trace id <code>{escape(str(exchange.get('trace_id')))}</code></p>"
        f"<h5>Request</h5><pre>{_headers(exchange['request_headers'])}\n\n"
        f"{escape(exchange['request_body'])}</pre>"
        f"<h5>Response</h5><pre>{_headers(exchange['response_headers'])}\n\n"
        f"{escape(exchange['response_body'])}</pre></details>"
    )


def _headers(headers: dict[str, str]) -> str:
    return escape("\n".join(f"{name}: {value}" for name, value in headers.items()))


def _figures(result: ScenarioResult) -> str:
    rows = "".join(
        f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in result.figures.items()
    )
    return f'<div class="figures"><h4>Measured</h4><table>{rows}</table></div>'


def _attachments(result: ScenarioResult) -> str:
    links = "".join(
        f'<li><a href="{escape(path)}">{escape(path)}</a></li>' for path in result.attachments
    )
    return f'<div class="attachments"><h4>Attachments</h4><ul>{links}</ul></div>'


def _tags(tags: Sequence[str]) -> str:
    return "".join(f'<span class="tag">@{escape(tag)}</span>' for tag in tags)


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(block.strip())}</p>" for block in text.split("\n\n") if block)


def _css(status: str) -> str:
    return status.replace(" ", "-")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body>{body}</body></html>
"""

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;
color:#1d2733}
h1{margin-bottom:.2rem} h2{margin:.2rem 0} code,pre{font:13px ui-monospace,monospace}
pre{background:#f4f6f8;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-all}
.feature{border-top:2px solid #d8dee4;margin-top:1.5rem;padding-top:.5rem}
.file{color:#6a737d;margin:0;font-size:12px} .description{color:#3b4652}
.background ul,.steps{list-style:none;padding-left:1rem;margin:.3rem 0}
.step{padding:1px 4px;border-left:3px solid transparent}
.step.passed{border-color:#2da44e} .step.failed{border-color:#cf222e;background:#ffebe9}
.step.not-run{color:#8c959f}
.scenario{margin:.4rem 0;padding:.3rem .6rem;border:1px solid #d8dee4;border-radius:6px}
.scenario.failed{border-color:#cf222e} summary{cursor:pointer}
.badge{display:inline-block;min-width:4.5em;text-align:center;border-radius:10px;
padding:0 .5em;font-size:12px;color:#fff;background:#8c959f}
.badge.passed{background:#2da44e} .badge.failed{background:#cf222e}
.badge.skipped{background:#bf8700}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:2px;
background:#8c959f} .dot.passed{background:#2da44e} .dot.failed{background:#cf222e}
.dot.skipped{background:#bf8700}
.tag{color:#0969da;font-size:12px;margin-left:.4em} .time{color:#6a737d;font-size:12px}
.skip{color:#7d4e00;margin:.2rem 0} .failure{border-top:1px dashed #cf222e;margin-top:.5rem}
.examples{border-collapse:collapse;margin:.4rem 1rem}
.examples td,.examples th{border:1px solid #d8dee4;padding:2px 8px}
.exchange{margin:.3rem 0} .log{max-height:24rem} .crash{background:#ffebe9}
"""

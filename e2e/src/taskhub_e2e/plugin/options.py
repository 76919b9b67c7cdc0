"""The e2e plugin's options and configuration: the target, its tags, xdist's run id.

The target is probed once per process (`get_target`); a scenario whose tags need a
capability the target lacks is skipped, with the reason, before anything starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from taskhub_e2e.people import DEFAULT_EMAIL_DOMAIN, new_run_id
from taskhub_e2e.target import (
    DEFAULT_BASE_URL,
    DEFAULT_CHROMIUM,
    TAG_CAPABILITIES,
    Capability,
    Target,
    TargetOptions,
    detect_target,
)

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
TARGET_KEY = pytest.StashKey[Target]()
RUN_ID_KEY = pytest.StashKey[str]()


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

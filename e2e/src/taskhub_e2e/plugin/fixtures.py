"""The e2e plugin's fixtures: the target, the identities, the API client, the cast, the
native stack and chaos, and what a scenario records for the living doc."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taskhub_e2e.actors import Cast
from taskhub_e2e.chaos import Chaos
from taskhub_e2e.client import MissingRouteHook, Route, Service, TaskHubClient, error_code
from taskhub_e2e.people import DEFAULT_EMAIL_DOMAIN, IdentityFactory
from taskhub_e2e.plugin.options import RUN_ID_KEY, get_target, worker_name
from taskhub_e2e.plugin.reporting import ATTACHMENTS_KEY, EXCHANGES_KEY, FIGURES_KEY
from taskhub_e2e.recording import ExchangeLog
from taskhub_e2e.target import Capability, Credentials, Target
from taskhub_stack.native import NativeStack


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

"""Steps of the API documentation: the OpenAPI files, and Swagger UI in a real browser.

The browser is Debian's Chromium driven by Playwright (`playwright install` cannot
download browsers here), headless and kept off the network beyond the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_bdd import parsers, then, when

from taskhub_e2e.actors import Cast
from taskhub_e2e.client import Service, TaskHubClient
from taskhub_e2e.outcomes import describe, json_body
from taskhub_e2e.target import Target

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVICE = r"(?:the )?(?P<service>auth|tasks?|notify|notification) service"
RENDER_TIMEOUT_MS = 15_000


@dataclass
class DocsPage:
    """A Swagger UI page and what went wrong while it loaded (for the failure message)."""

    service: Service
    page: Any  # playwright.sync_api.Page
    problems: list[str] = field(default_factory=list)

    def explain(self) -> str:
        return "; ".join(self.problems[-10:]) or "no failed requests or console errors"


@pytest.fixture(scope="session")
def chromium(target: Target) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=target.chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def screenshot(
    request: pytest.FixtureRequest, docs: DocsPage, reports_dir: Path, attachments: list[str]
) -> None:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    relative = f"screenshots/{name}-{len(attachments) + 1}.png"
    (reports_dir / "screenshots").mkdir(parents=True, exist_ok=True)
    docs.page.screenshot(path=str(reports_dir / relative), full_page=True)
    attachments.append(relative)


@when(
    parsers.re(rf"^a developer opens the API documentation of {SERVICE}$"),
    target_fixture="docs",
)
def open_docs(browser_page: Any, target: Target, service: str) -> DocsPage:
    docs = DocsPage(Service.named(service), browser_page)
    browser_page.on(
        "requestfailed", lambda req: docs.problems.append(f"{req.url} failed: {req.failure}")
    )
    browser_page.on(
        "console",
        lambda message: (
            docs.problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    browser_page.goto(f"{target.base_url}/{docs.service}/docs")
    return docs


@then("the page shows the service's operations")
def shows_operations(
    request: pytest.FixtureRequest, docs: DocsPage, reports_dir: Path, attachments: list[str]
) -> None:
    from playwright.sync_api import Error as PlaywrightError

    try:
        docs.page.locator(".swagger-ui .opblock").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    except PlaywrightError:
        screenshot(request, docs, reports_dir, attachments)
        raise AssertionError(f"Swagger UI did not render: {docs.explain()}") from None
    screenshot(request, docs, reports_dir, attachments)
    assert docs.page.locator(".swagger-ui .opblock").count() > 0


@when(parsers.re(r"^(?:she|he|they) tries? out the health check from the page$"))
def try_health_check(docs: DocsPage) -> None:
    operation = docs.page.locator(".opblock", has_text=f"/{docs.service}/healthz").first
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()


@then("the page shows that the service answered successfully")
def health_answered(
    request: pytest.FixtureRequest, docs: DocsPage, reports_dir: Path, attachments: list[str]
) -> None:
    from playwright.sync_api import Error as PlaywrightError

    status = docs.page.locator(".live-responses-table .response .response-col_status").first
    try:
        status.wait_for(timeout=RENDER_TIMEOUT_MS)
        text = status.inner_text().strip()
    except PlaywrightError:
        text = "(no response shown)"
    screenshot(request, docs, reports_dir, attachments)
    assert text.startswith("200"), f"the page shows {text!r}: {docs.explain()}"


@when(
    parsers.re(rf"^a developer fetches the API description of {SERVICE}$"), target_fixture="reply"
)
def fetch_openapi(cast: Cast, api: TaskHubClient, service: str) -> httpx.Response:
    return cast.answered(api.openapi(Service.named(service)))


@then(parsers.re(rf"^it describes the operations of {SERVICE}$"))
def describes_operations(reply: httpx.Response, service: str) -> None:
    assert reply.status_code == 200, describe(reply)
    spec = json_body(reply)
    assert str(spec.get("openapi", "")).startswith("3."), describe(reply)
    prefix = f"/{Service.named(service)}"
    paths = list(spec.get("paths", {}))
    assert f"{prefix}/healthz" in paths, f"no health check in {paths}"

"""API keys on notify-svc: every endpoint declares its scope, a key queues and reads jobs as
its owner within its scopes, and the submission quota counts a key's jobs as its owner's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from notify_svc.api import quota
from notify_svc.api.deps import current_principal
from notify_svc.core.config import get_settings
from notify_svc.db.session import kit
from notify_svc.main import app
from taskhub_common.api_keys import Scope
from taskhub_common.auth import Role, principal_dependency
from taskhub_common.rate_limit import UserRateLimiter, redis_storage
from taskhub_common.service import AuthServiceClients
from taskhub_common.testing import ApiKeyDirectory, TokenMinter

pytestmark = pytest.mark.integration

SCHEMES = ("BearerTokenOrApiKey", "ApiKeyHeader")
ADMIN_ONLY = {("get", "/notify/failed")}
EMAIL = {"to": "alice@example.com", "subject": "Hello", "body": "World"}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if "security" in operation
    ]


def _user_operations() -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in _operations() if (m, p) not in ADMIN_ONLY]


@pytest.fixture
def directory(client: httpx.AsyncClient, minter: TokenMinter) -> Iterator[ApiKeyDirectory]:
    """The app accepts keys from this stand-in auth-svc (tokens from `minter` as before)."""
    with ApiKeyDirectory(internal_token=get_settings().internal_token.get_secret_value()) as server:
        lookup = server.lookup(ttl_seconds=0.3)
        app.dependency_overrides[current_principal] = principal_dependency(
            lambda: minter.verifier, lambda: lookup
        )
        yield server


def test_every_endpoint_declares_its_scope_under_both_schemes(integration_env: None) -> None:
    operations = _operations()
    assert {(m, p) for m, p, _ in operations} >= {
        ("post", "/notify/email"),
        ("post", "/notify/webhook"),
        ("get", "/notify/jobs"),
        ("get", "/notify/jobs/{job_id}"),
        ("delete", "/notify/jobs/{job_id}"),
    }
    for method, path, operation in operations:
        assert [next(iter(entry)) for entry in operation["security"]] == list(SCHEMES)
        if (method, path) in ADMIN_ONLY:
            continue  # no key is ever an admin
        scopes = {tuple(entry[name]) for entry in operation["security"] for name in entry}
        expected = Scope.NOTIFY_READ if method == "get" else Scope.NOTIFY_WRITE
        assert scopes == {(expected.value,)}, (method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/notify/email"),
        ("post", "/notify/webhook"),
        ("get", "/notify/jobs"),
        ("get", "/notify/jobs/{job_id}"),
        ("delete", "/notify/jobs/{job_id}"),
    ],
)
async def test_a_key_without_the_endpoints_scope_is_a_403_naming_it(
    client: httpx.AsyncClient,
    directory: ApiKeyDirectory,
    make_user: Any,
    method: str,
    path: str,
) -> None:
    needed = Scope.NOTIFY_READ if method == "get" else Scope.NOTIFY_WRITE
    key = directory.issue(make_user().id, *[scope for scope in Scope if scope != needed])
    url = path.replace("{job_id}", str(uuid.uuid4()))

    response = await client.request(method, url, headers={"X-API-Key": key}, json={})

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert needed.value in response.json()["error"]["message"]


async def test_a_key_of_an_admin_is_refused_on_admin_routes(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any
) -> None:
    key = directory.issue(make_user(Role.ADMIN).id, *Scope)
    response = await client.get("/notify/failed", headers={"X-API-Key": key})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


async def test_a_key_queues_and_reads_jobs_as_its_owner(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any
) -> None:
    alice, bob = make_user(), make_user()
    writer = directory.issue(alice.id, Scope.NOTIFY_WRITE)
    reader = directory.issue(alice.id, Scope.NOTIFY_READ)
    bobs = (await client.post("/notify/email", json=EMAIL, headers=bob.headers)).json()

    queued = await client.post(
        "/notify/email", json=EMAIL, headers={"Authorization": f"Bearer {writer}"}
    )
    listed = await client.get("/notify/jobs", headers={"X-API-Key": reader})
    theirs = await client.get(f"/notify/jobs/{bobs['id']}", headers={"X-API-Key": reader})

    assert queued.status_code == 202, queued.text
    assert [job["id"] for job in listed.json()["items"]] == [queued.json()["id"]]
    assert theirs.status_code == 404


@pytest.fixture
def tight_quota() -> Iterator[None]:
    storage = redis_storage(get_settings().redis_url, key_prefix="notify:ratelimit")
    limiter = UserRateLimiter(
        storage, "2/minute", policy=quota.POLICY, metric_label="notify_submit"
    )
    app.dependency_overrides[quota.submission_limiter] = lambda: limiter
    yield
    app.dependency_overrides.pop(quota.submission_limiter, None)


@pytest.mark.usefixtures("tight_quota")
async def test_the_submission_quota_counts_a_keys_jobs_as_its_owners(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any
) -> None:
    alice = make_user()
    key = directory.issue(alice.id, Scope.NOTIFY_WRITE)

    statuses = [
        (await client.post("/notify/email", json=EMAIL, headers=alice.headers)).status_code,
        (await client.post("/notify/email", json=EMAIL, headers={"X-API-Key": key})).status_code,
        (await client.post("/notify/email", json=EMAIL, headers={"X-API-Key": key})).status_code,
    ]

    assert statuses == [202, 202, 429]


def test_the_key_lookup_asks_the_configured_auth_svc(integration_env: None) -> None:
    settings = get_settings()
    lookup = AuthServiceClients(kit, settings).api_key_lookup()
    assert lookup.url == f"{settings.auth_url.rstrip('/')}/internal/api-keys/verify"
    assert lookup.auth.token == settings.internal_token.get_secret_value()
    assert lookup.auth.client is kit.http_client()
    assert lookup.ttl_seconds == settings.api_key_cache_seconds == 10.0

"""API keys on the task API: every endpoint declares its scope, a key does what its scopes
and its owner allow, a revoked key stops within the cache time, limits count the owner."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from task_svc.api import deps
from task_svc.core.config import get_settings
from task_svc.db.session import kit
from task_svc.main import app
from taskhub_common.api_keys import Scope
from taskhub_common.auth import Role, principal_dependency
from taskhub_common.rate_limit import UserRateLimiter, redis_storage
from taskhub_common.testing import ApiKeyDirectory, TokenMinter

pytestmark = pytest.mark.integration

TTL = 0.3
SPEC = app.openapi()
SCHEMES = ("BearerTokenOrApiKey", "ApiKeyHeader")
ADMIN_ONLY = {("get", "/tasks/outbox/parked"), ("post", "/tasks/outbox/parked/{event_id}/requeue")}
OPERATIONS = [
    (method, path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if "security" in operation
]


@pytest.fixture
def directory() -> Iterator[ApiKeyDirectory]:
    with ApiKeyDirectory(internal_token=get_settings().internal_token.get_secret_value()) as server:
        yield server


@pytest.fixture
def keys(client: httpx.AsyncClient, minter: TokenMinter, directory: ApiKeyDirectory) -> None:
    """The app accepts keys from `directory` (tokens from `minter` as before)."""
    lookup = directory.lookup(ttl_seconds=TTL)
    app.dependency_overrides[deps.current_principal] = principal_dependency(
        lambda: minter.verifier, lambda: lookup
    )


def _key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _scope_of(operation: dict[str, Any]) -> list[str]:
    scopes: list[str] = operation["security"][0][SCHEMES[0]]
    return scopes


def test_every_endpoint_declares_its_scope_under_both_schemes() -> None:
    assert OPERATIONS
    for method, path, operation in OPERATIONS:
        assert [next(iter(entry)) for entry in operation["security"]] == list(SCHEMES)
        if (method, path) in ADMIN_ONLY:
            continue  # no key is ever an admin
        scopes = {tuple(entry[name]) for entry in operation["security"] for name in entry}
        assert len(scopes) == 1, (method, path)
        (scope,) = scopes
        expected = Scope.TASKS_READ if method == "get" else Scope.TASKS_WRITE
        assert scope == (expected.value,), (method, path)


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for m, p, _ in OPERATIONS if (m, p) not in ADMIN_ONLY],
    ids=[f"{m} {p}" for m, p, _ in OPERATIONS if (m, p) not in ADMIN_ONLY],
)
async def test_a_key_without_the_endpoints_scope_is_a_403_naming_it(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any, method: str, path: str
) -> None:
    (needed,) = _scope_of(SPEC["paths"][path][method])
    others = [scope for scope in Scope if scope != needed]
    key = directory.issue(make_user().id, *others)
    url = path.replace("{task_id}", str(uuid.uuid4()))

    response = await client.request(method, url, headers=_key_headers(key), json={})

    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert needed in response.json()["error"]["message"]


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ONLY))
async def test_a_key_of_an_admin_is_refused_on_admin_routes(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any, method: str, path: str
) -> None:
    key = directory.issue(make_user(Role.ADMIN).id, *Scope)
    url = path.replace("{event_id}", str(uuid.uuid4()))
    response = await client.request(method, url, headers=_key_headers(key))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


@pytest.mark.usefixtures("keys")
async def test_a_read_key_lists_its_owners_tasks_and_cannot_create_one(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any, create_task: Any
) -> None:
    alice, bob = make_user(), make_user()
    mine = await create_task(alice, title="mine")
    await create_task(bob, title="theirs")
    key = directory.issue(alice.id, Scope.TASKS_READ)

    listed = await client.get("/tasks", headers={"Authorization": f"Bearer {key}"})
    created = await client.post("/tasks", json={"title": "x"}, headers=_key_headers(key))

    assert listed.status_code == 200
    assert [task["id"] for task in listed.json()["items"]] == [mine["id"]]
    assert created.status_code == 403
    assert "tasks:write" in created.json()["error"]["message"]


@pytest.mark.usefixtures("keys")
async def test_a_write_key_creates_tasks_as_its_owner_and_cannot_touch_others(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any, create_task: Any
) -> None:
    alice, bob = make_user(), make_user()
    theirs = await create_task(bob, title="theirs")
    key = directory.issue(alice.id, Scope.TASKS_READ, Scope.TASKS_WRITE)

    created = await client.post("/tasks", json={"title": "from CI"}, headers=_key_headers(key))
    read_theirs = await client.get(f"/tasks/{theirs['id']}", headers=_key_headers(key))
    delete_theirs = await client.delete(f"/tasks/{theirs['id']}", headers=_key_headers(key))

    assert created.status_code == 201
    assert created.json()["owner_id"] == str(alice.id)
    assert (read_theirs.status_code, delete_theirs.status_code) == (404, 404)
    assert (await client.get(f"/tasks/{theirs['id']}", headers=bob.headers)).status_code == 200


@pytest.mark.usefixtures("keys")
async def test_a_revoked_key_is_refused_within_the_cache_time(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any
) -> None:
    key = directory.issue(make_user().id, Scope.TASKS_READ)
    assert (await client.get("/tasks", headers=_key_headers(key))).status_code == 200
    directory.revoke(key)

    await asyncio.sleep(TTL)
    refused = await client.get("/tasks", headers=_key_headers(key))

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.usefixtures("keys")
@pytest.mark.parametrize(
    "mangle",
    [lambda k: k[:-1], lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"), lambda k: "ghp" + k[3:]],
    ids=["truncated", "wrong-checksum", "other-prefix"],
)
async def test_a_malformed_key_is_a_401_without_asking_auth_svc(
    client: httpx.AsyncClient,
    directory: ApiKeyDirectory,
    make_user: Any,
    mangle: Callable[[str], str],
) -> None:
    key = directory.issue(make_user().id, Scope.TASKS_READ)
    response = await client.get("/tasks", headers={"Authorization": f"Bearer {mangle(key)}"})
    assert response.status_code == 401
    assert directory.requests == 0


@pytest.fixture
def tight_creation_limit() -> Iterator[None]:
    storage = redis_storage(get_settings().redis_url)
    limiter = UserRateLimiter(storage, "3/minute", policy="create", metric_label="task_create")
    app.dependency_overrides[deps.creation_limiter] = lambda: limiter
    yield
    app.dependency_overrides.pop(deps.creation_limiter, None)


@pytest.mark.usefixtures("keys", "tight_creation_limit")
async def test_the_creation_limit_counts_a_keys_creations_as_its_owners(
    client: httpx.AsyncClient, directory: ApiKeyDirectory, make_user: Any
) -> None:
    alice = make_user()
    key = directory.issue(alice.id, Scope.TASKS_WRITE)
    body = {"title": "t"}

    statuses = [
        (await client.post("/tasks", json=body, headers=alice.headers)).status_code,
        (await client.post("/tasks", json=body, headers=_key_headers(key))).status_code,
        (await client.post("/tasks", json=body, headers=alice.headers)).status_code,
        (await client.post("/tasks", json=body, headers=_key_headers(key))).status_code,
    ]

    assert statuses == [201, 201, 201, 429]


async def test_the_key_lookup_asks_the_configured_auth_svc_and_keeps_answers_as_configured() -> (
    None
):
    settings = get_settings()
    lookup = deps.auth_service.api_key_lookup()
    assert lookup.url == f"{settings.auth_url.rstrip('/')}/internal/api-keys/verify"
    assert lookup.auth.token == settings.internal_token.get_secret_value()
    assert lookup.auth.client is kit.http_client()
    assert lookup.ttl_seconds == settings.api_key_cache_seconds == 10.0

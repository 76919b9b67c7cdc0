"""API keys as services see them: the format, the cached lookup, scopes on endpoints."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Security

from taskhub_common.api_keys import (
    KEY_LENGTH,
    ApiKeyLookup,
    KeysUnavailable,
    Scope,
    generate_key,
    is_well_formed,
    key_hash,
    key_of,
)
from taskhub_common.auth import Principal, Role, principal_dependency
from taskhub_common.errors import Unauthorized, install_error_handlers
from taskhub_common.internal import AuthServiceEndpoint
from taskhub_common.testing import ApiKeyDirectory, TokenMinter

INTERNAL_TOKEN = "internal-test-token"
TTL = 0.3


@pytest.fixture
def directory() -> Iterator[ApiKeyDirectory]:
    with ApiKeyDirectory(internal_token=INTERNAL_TOKEN) as server:
        yield server


@pytest.fixture
def lookup(directory: ApiKeyDirectory) -> ApiKeyLookup:
    return directory.lookup(ttl_seconds=TTL)


# --- the format ------------------------------------------------------------------------


def test_a_generated_key_has_the_prefix_the_length_and_a_valid_checksum() -> None:
    keys = {generate_key() for _ in range(500)}
    assert len(keys) == 500
    for key in keys:
        assert key.startswith("thk_")
        assert len(key) == KEY_LENGTH
        assert is_well_formed(key)


def test_every_single_character_change_of_the_random_part_breaks_the_checksum() -> None:
    key = generate_key()
    for position in range(4, 36):
        replacement = "a" if key[position] != "a" else "b"
        assert not is_well_formed(key[:position] + replacement + key[position + 1 :])


@pytest.mark.parametrize(
    "key",
    [
        "",
        "thk_",
        "thk_" + "a" * 38,
        "ghp_" + generate_key()[4:],
        "THK_" + generate_key()[4:],
        generate_key()[:-1],
        generate_key() + "a",
        generate_key()[:-1] + "-",
        generate_key()[:-1] + "é",
        " " + generate_key(),
    ],
    ids=[
        "empty",
        "prefix-only",
        "bad-checksum",
        "other-prefix",
        "capital-prefix",
        "truncated",
        "overlong",
        "dash",
        "non-ascii",
        "leading-blank",
    ],
)
def test_malformed_keys_are_recognised_without_a_lookup(key: str) -> None:
    assert not is_well_formed(key)


def test_the_stored_hash_is_an_hmac_under_the_server_secret() -> None:
    key = key_of("A" * 32)
    assert key_hash(key, b"one") == key_hash(key, b"one")
    assert key_hash(key, b"one") != key_hash(key, b"two")
    assert len(key_hash(key, b"one")) == 64
    assert key[4:] not in key_hash(key, b"one")


# --- the lookup ------------------------------------------------------------------------


async def test_a_live_key_is_granted_and_looked_up_once_per_ttl(
    directory: ApiKeyDirectory, lookup: ApiKeyLookup
) -> None:
    owner = uuid.uuid4()
    key = directory.issue(owner, Scope.TASKS_READ, Scope.NOTIFY_WRITE)
    for _ in range(3):
        grant = await lookup.grant(key)
        assert grant.user_id == owner
        assert grant.scopes == {Scope.TASKS_READ, Scope.NOTIFY_WRITE}
    assert directory.requests == 1
    await asyncio.sleep(TTL)
    await lookup.grant(key)
    assert directory.requests == 2


async def test_requests_that_miss_together_share_one_lookup(
    directory: ApiKeyDirectory, lookup: ApiKeyLookup
) -> None:
    # A busy integration's connections all miss when the answer expires.
    owner = uuid.uuid4()
    key = directory.issue(owner, Scope.TASKS_READ)

    grants = await asyncio.gather(*(lookup.grant(key) for _ in range(32)))

    assert {grant.user_id for grant in grants} == {owner}
    assert directory.requests == 1


async def test_a_failed_shared_lookup_fails_every_waiter_and_is_tried_again() -> None:
    failing = ApiKeyLookup(
        AuthServiceEndpoint("http://127.0.0.1:9", INTERNAL_TOKEN, httpx.AsyncClient(timeout=1.0)),
        ttl_seconds=TTL,
    )
    key = generate_key()

    outcomes = await asyncio.gather(*(failing.grant(key) for _ in range(4)), return_exceptions=True)

    assert all(isinstance(outcome, KeysUnavailable) for outcome in outcomes)
    with pytest.raises(KeysUnavailable):
        await failing.grant(key)  # nothing cached, nothing pending: asked again


async def test_a_revoked_key_is_refused_once_the_ttl_has_passed(
    directory: ApiKeyDirectory, lookup: ApiKeyLookup
) -> None:
    key = directory.issue(uuid.uuid4(), Scope.TASKS_READ)
    await lookup.grant(key)
    directory.revoke(key)

    await lookup.grant(key)  # still cached: the documented revocation delay
    await asyncio.sleep(TTL)
    with pytest.raises(Unauthorized):
        await lookup.grant(key)


async def test_an_answer_is_kept_no_longer_than_the_key_lives(
    directory: ApiKeyDirectory,
) -> None:
    lookup = directory.lookup(ttl_seconds=60)
    expires_at = (datetime.now(UTC) + timedelta(seconds=0.3)).isoformat()
    key = directory.issue(uuid.uuid4(), Scope.TASKS_READ, expires_at=expires_at)
    await lookup.grant(key)
    directory.revoke(key)  # what auth-svc answers once the key has expired

    await asyncio.sleep(0.35)
    with pytest.raises(Unauthorized):
        await lookup.grant(key)
    assert directory.requests == 2


async def test_without_a_cache_every_use_asks_auth_svc(directory: ApiKeyDirectory) -> None:
    lookup = directory.lookup(ttl_seconds=0)
    key = directory.issue(uuid.uuid4(), Scope.TASKS_READ)
    for _ in range(3):
        await lookup.grant(key)
    assert directory.requests == 3
    assert len(lookup) == 0


async def test_the_least_recently_used_answer_goes_first_when_the_cache_is_full(
    directory: ApiKeyDirectory,
) -> None:
    lookup = directory.lookup(ttl_seconds=60)
    lookup.max_size = 2
    first, second, third = (directory.issue(uuid.uuid4(), Scope.TASKS_READ) for _ in range(3))
    for key in (first, second, first, third):
        await lookup.grant(key)
    assert len(lookup) == 2
    await lookup.grant(first)  # still cached: used after `second`
    await lookup.grant(second)  # evicted: asked again
    assert directory.requests == 4


async def test_an_unknown_key_is_refused_and_the_answer_is_cached(
    directory: ApiKeyDirectory, lookup: ApiKeyLookup
) -> None:
    key = generate_key()
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await lookup.grant(key)
    assert directory.requests == 1


async def test_a_malformed_key_never_reaches_auth_svc(
    directory: ApiKeyDirectory, lookup: ApiKeyLookup
) -> None:
    real = directory.issue(uuid.uuid4(), Scope.TASKS_READ)
    for key in (real[:-1], real[:-1] + ("A" if real[-1] != "A" else "B"), "ghp_" + real[4:]):
        with pytest.raises(Unauthorized):
            await lookup.grant(key)
    assert directory.requests == 0


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_an_unreachable_auth_svc_is_a_503_and_is_not_cached() -> None:
    async with httpx.AsyncClient(timeout=1.0) as client:
        lookup = ApiKeyLookup(AuthServiceEndpoint(_closed_port_url(), "x", client))
        with pytest.raises(KeysUnavailable):
            await lookup.grant(generate_key())
        assert len(lookup) == 0


@pytest.mark.parametrize(
    "forced",
    [
        (500, b'{"error": {}}'),
        (401, b"{}"),
        (200, b"not json"),
        (200, b'{"id": "x"}'),
        (200, b'{"id": "%s", "user_id": "%s", "scopes": ["tasks:admin"]}'),
    ],
    ids=["500", "401", "not-json", "missing-fields", "unknown-scope"],
)
async def test_an_answer_outside_the_contract_is_a_503(
    directory: ApiKeyDirectory, lookup: ApiKeyLookup, forced: tuple[int, bytes]
) -> None:
    status, body = forced
    if b"%s" in body:
        body = body % (str(uuid.uuid4()).encode(), str(uuid.uuid4()).encode())
    directory.forced = (status, body)
    with pytest.raises(KeysUnavailable):
        await lookup.grant(generate_key())


# --- scopes on endpoints ----------------------------------------------------------------


@pytest.fixture
def minter() -> TokenMinter:
    return TokenMinter(issuer="taskhub-auth", audience="taskhub")


class _Collaborators:
    """What the demo endpoints verify with; each test sets its own."""

    minter: TokenMinter
    lookup: ApiKeyLookup


_using = _Collaborators()
_current = principal_dependency(lambda: _using.minter.verifier, lambda: _using.lookup)
Reader = Annotated[Principal, Security(_current, scopes=[Scope.TASKS_READ])]
Writer = Annotated[Principal, Security(_current, scopes=[Scope.TASKS_WRITE])]
demo = FastAPI()
install_error_handlers(demo)


@demo.get("/things")
async def read_things(principal: Reader) -> dict[str, str]:
    key = str(principal.api_key_id)
    return {"user": str(principal.user_id), "role": principal.role.value, "key": key}


@demo.post("/things")
async def write_things(principal: Writer) -> dict[str, str]:
    return {"user": str(principal.user_id)}


@pytest.fixture
async def api(
    minter: TokenMinter, lookup: ApiKeyLookup
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    _using.minter, _using.lookup = minter, lookup
    transport = httpx.ASGITransport(app=demo)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield demo, client


async def test_an_access_token_has_every_scope(
    api: tuple[FastAPI, httpx.AsyncClient], minter: TokenMinter
) -> None:
    _, client = api
    headers = minter.headers(uuid.uuid4())
    assert (await client.get("/things", headers=headers)).status_code == 200
    assert (await client.post("/things", headers=headers)).status_code == 200


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
async def test_a_key_does_what_its_scopes_allow_and_nothing_more(
    api: tuple[FastAPI, httpx.AsyncClient], directory: ApiKeyDirectory, header: str
) -> None:
    _, client = api
    owner = uuid.uuid4()
    key = directory.issue(owner, Scope.TASKS_READ)
    headers = {header: f"Bearer {key}" if header == "Authorization" else key}

    read = await client.get("/things", headers=headers)
    write = await client.post("/things", headers=headers)

    assert read.status_code == 200
    assert read.json()["user"] == str(owner)
    assert write.status_code == 403
    error = write.json()["error"]
    assert error["code"] == "INSUFFICIENT_SCOPE"
    assert "tasks:write" in error["message"]


async def test_a_key_acts_as_a_plain_user_whoever_owns_it(
    api: tuple[FastAPI, httpx.AsyncClient], directory: ApiKeyDirectory
) -> None:
    _, client = api
    key = directory.issue(uuid.uuid4(), *Scope)
    response = await client.get("/things", headers={"X-API-Key": key})
    assert response.json()["role"] == Role.USER.value
    assert response.json()["key"] == directory.grants[key]["id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "thk_guess"},
        {"Authorization": "Bearer thk_guess"},
        {"Authorization": "Bearer not-a-token"},
    ],
    ids=["none", "basic", "header-malformed", "bearer-malformed", "bearer-garbage"],
)
async def test_missing_or_malformed_credentials_are_a_401(
    api: tuple[FastAPI, httpx.AsyncClient], headers: dict[str, str]
) -> None:
    _, client = api
    response = await client.get("/things", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_key_and_a_bearer_credential_together_are_a_401(
    api: tuple[FastAPI, httpx.AsyncClient], directory: ApiKeyDirectory, minter: TokenMinter
) -> None:
    _, client = api
    key = directory.issue(uuid.uuid4(), *Scope)
    headers = {"X-API-Key": key, **minter.headers(uuid.uuid4())}
    assert (await client.get("/things", headers=headers)).status_code == 401


def test_the_openapi_document_lists_each_endpoints_scope_under_both_schemes(
    api: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = api
    spec = app.openapi()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerTokenOrApiKey"]["scheme"] == "bearer"
    assert schemes["ApiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["ApiKeyHeader"]["description"],
    }
    assert spec["paths"]["/things"]["get"]["security"] == [
        {"BearerTokenOrApiKey": ["tasks:read"]},
        {"ApiKeyHeader": ["tasks:read"]},
    ]
    assert spec["paths"]["/things"]["post"]["security"] == [
        {"BearerTokenOrApiKey": ["tasks:write"]},
        {"ApiKeyHeader": ["tasks:write"]},
    ]

"""No input reaches a 500: every body field and query parameter of auth-svc, generated from
its OpenAPI document, answers edge values with a 422 naming the field; and every e-mail
field reads any Unicode spelling of an address as the same address."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any, Literal

import httpx
import pytest

from auth_svc.api.routers import internal
from auth_svc.core.config import get_settings
from auth_svc.main import app
from taskhub_common.input_edges import (
    EdgeCase,
    assert_refused_naming_the_field,
    edge_cases,
    every_route_document,
    input_fields,
    send,
)

pytestmark = pytest.mark.integration

# Every route, the unpublished internal ones included.
SPEC = every_route_document(app, internal.router)
FIELDS = input_fields(SPEC)
PASSWORD = "s3cret-enough"
Form = Literal["NFC", "NFD"]
# A valid body per route: an edge value in one field is then the only thing wrong.
BASES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/auth/register"): {"email": "edge@example.com", "password": PASSWORD, "name": "E"},
    ("post", "/auth/login"): {"email": "edge@example.com", "password": PASSWORD},
    ("post", "/auth/refresh"): {"refresh": "x.y.z"},
    ("post", "/auth/logout"): {"refresh": "x.y.z"},
    ("patch", "/auth/users/{user_id}"): {"role": "user"},
    ("post", "/auth/api-keys"): {"name": "edge", "scopes": ["tasks:read"]},
    ("post", "/internal/api-keys/verify"): {"key": "thk_edge"},
}
# What other services send with their calls to `/internal` (and users do not).
INTERNAL_HEADERS = {"X-Internal-Token": get_settings().internal_token.get_secret_value()}


def test_every_field_of_the_document_is_covered() -> None:
    assert {field.route for field in FIELDS if field.location == "body"} <= set(BASES)
    assert {
        "body.email",
        "body.password",
        "body.name",
        "body.refresh",
        "query.page",
        "query.limit",
    } <= {field.loc for field in FIELDS}


@pytest.mark.parametrize("case", edge_cases(SPEC), ids=lambda case: case.id)
async def test_edge_value_is_a_422_naming_the_field(
    client: httpx.AsyncClient, admin: Any, case: EdgeCase
) -> None:
    response = await send(
        client,
        case.field,
        case.value,
        base=BASES.get(case.field.route, {}),
        headers=INTERNAL_HEADERS if case.field.path.startswith("/internal/") else admin.headers,
        path_values={"user_id": str(uuid.uuid4())},
    )
    assert_refused_naming_the_field(response, case)


def _spelling(form: Form, local: str) -> str:
    return unicodedata.normalize(form, f"{local}-{uuid.uuid4().hex[:8]}@b\u00fccher.example")


@pytest.mark.parametrize(
    ("registered_as", "logged_in_as"), [("NFD", "NFC"), ("NFC", "NFD")], ids=["nfd-nfc", "nfc-nfd"]
)
async def test_login_reads_an_address_in_any_unicode_spelling_as_registration_does(
    client: httpx.AsyncClient, registered_as: Form, logged_in_as: Form
) -> None:
    address = _spelling("NFC", "Jos\u00e9")
    registered = await client.post(
        "/auth/register",
        json={
            "email": unicodedata.normalize(registered_as, address),
            "password": PASSWORD,
            "name": "J",
        },
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == address.lower()
    login = await client.post(
        "/auth/login",
        json={"email": unicodedata.normalize(logged_in_as, address).upper(), "password": PASSWORD},
    )
    assert login.status_code == 200, login.text


async def test_one_address_in_two_spellings_is_one_account(client: httpx.AsyncClient) -> None:
    address = _spelling("NFC", "Ren\u00e9e")
    first = await client.post(
        "/auth/register", json={"email": address, "password": PASSWORD, "name": "R"}
    )
    again = await client.post(
        "/auth/register",
        json={"email": unicodedata.normalize("NFD", address), "password": PASSWORD, "name": "R"},
    )
    assert (first.status_code, again.status_code) == (201, 409)

"""Findings of the API fuzzing, fixed in the shared error handling and schema pieces."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, ValidationError

from taskhub_common.app import create_app
from taskhub_common.settings import ServiceSettings
from taskhub_common.text import NO_NUL_PATTERN, DateTimeText, NoNul


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, NoNul]
    tags: list[Annotated[str, NoNul]] = []


def _router() -> APIRouter:
    router = APIRouter(prefix="/errs")

    @router.get("/notes/{note_id}")
    async def read_note(note_id: int) -> dict[str, int]:
        return {"id": note_id}

    @router.delete("/notes/{note_id}", status_code=204)
    async def delete_note(note_id: int) -> None:
        return None

    @router.post("/notes")
    async def create_note(note: Note) -> Note:
        return note

    @router.post("/notes/archive")
    async def archive_notes() -> None:
        return None

    return router


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(
        ServiceSettings(service_name="errs-svc"),
        prefix="/errs",
        title="Errors",
        description="Regression tests of the fuzzing findings.",
        routers=[_router()],
        readiness={},
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_body_that_is_not_utf8_is_a_validation_error(client: httpx.AsyncClient) -> None:
    # FastAPI answers a bare 400 for it; the contract says 422 VALIDATION_ERROR.
    response = await client.post(
        "/errs/notes", content=b"\xff\xfe\x1b\x80", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["request_id"] == response.headers["x-request-id"]


async def test_a_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    # GET and DELETE are two routes; Starlette alone would name only the first.
    response = await client.put("/errs/notes/1")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert allowed == {"GET", "DELETE"}


async def test_a_fixed_path_a_parameter_route_could_match_answers_405_to_other_methods(
    client: httpx.AsyncClient,
) -> None:
    # `/notes/archive` is its own resource (POST only), not a note whose id is "archive".
    response = await client.delete("/errs/notes/archive")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "POST"
    # A real bad id is still a 422 naming it.
    bad_id = await client.delete("/errs/notes/abc")
    assert bad_id.status_code == 422
    assert bad_id.json()["error"]["details"][0]["field"] == "path.note_id"


async def test_nul_is_refused_and_documented(client: httpx.AsyncClient) -> None:
    refused = await client.post("/errs/notes", json={"text": "a\x00b"})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["field"] == "body.text"
    nested = await client.post("/errs/notes", json={"text": "ok", "tags": ["x\x00"]})
    assert nested.status_code == 422
    spec = (await client.get("/errs/openapi.json")).json()
    note = spec["components"]["schemas"]["Note"]["properties"]
    assert note["text"]["pattern"] == NO_NUL_PATTERN
    assert note["tags"]["items"]["pattern"] == NO_NUL_PATTERN


def test_no_nul_accepts_ordinary_text() -> None:
    assert Note(text="plain ünïcode", tags=["a"]).text == "plain ünïcode"
    with pytest.raises(ValidationError, match="NUL"):
        Note(text="\x00")


class Meeting(BaseModel):
    at: Annotated[datetime, DateTimeText]


@pytest.mark.parametrize("value", [0, 1.5, True, "1700000000", " 12.5 ", "1e9"])
def test_a_date_time_is_never_read_from_a_number(value: object) -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        Meeting.model_validate({"at": value})


def test_a_date_time_text_is_read() -> None:
    assert Meeting.model_validate({"at": "2026-11-26T10:00:00Z"}).at == datetime(
        2026, 11, 26, 10, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        {"Origin": "http://localhost", "Access-Control-Request-Method": "PUT"},
        {
            "Origin": "http://localhost",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-evil",
        },
    ],
    ids=["origin", "method", "header"],
)
async def test_a_refused_preflight_is_a_forbidden_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # Found by the security scenarios: Starlette answered a plain-text 400.
    response = await client.options("/errs/notes", headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in response.headers
    assert "Origin" in response.headers["vary"]


async def test_an_allowed_preflight_is_unchanged(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/errs/notes",
        headers={"Origin": "http://localhost", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost"

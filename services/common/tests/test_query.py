"""QueryModel reads and documents a query-string model exactly as FastAPI's Query() does."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query
from pydantic import AwareDatetime, BaseModel, Field

from taskhub_common.errors import install_error_handlers
from taskhub_common.query import QueryModel


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Filters(BaseModel):
    colour: list[Colour] = Field(default=[], description="Repeatable; any of them.")
    word: Annotated[list[Annotated[str, Field(max_length=5)]], Field(max_length=3)] = []
    owner: uuid.UUID | None = None
    before: AwareDatetime | None = Field(default=None, description="Exclusive.")
    page: int = Field(default=1, ge=1, le=10)


filters = QueryModel(Filters)


def _apps() -> tuple[FastAPI, FastAPI]:
    ours, fastapis = FastAPI(), FastAPI()
    install_error_handlers(ours)
    install_error_handlers(fastapis)

    @ours.get("/items", openapi_extra=filters.openapi_extra)
    async def with_query_model(query: Annotated[Filters, Depends(filters)]) -> dict[str, Any]:
        return query.model_dump(mode="json")

    @fastapis.get("/items")
    async def with_fastapi(query: Annotated[Filters, Query()]) -> dict[str, Any]:
        return query.model_dump(mode="json")

    # Both reference the enum from the components, as a response model would add it.
    for app in (ours, fastapis):

        @app.get("/colour")
        async def colour() -> Colour:
            return Colour.RED

    return ours, fastapis


def test_the_parameters_are_documented_as_fastapi_documents_them() -> None:
    ours, fastapis = _apps()
    documented = ours.openapi()["paths"]["/items"]["get"]["parameters"]
    assert documented == fastapis.openapi()["paths"]["/items"]["get"]["parameters"]
    assert "Colour" in ours.openapi()["components"]["schemas"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "colour=red&colour=blue&word=a&word=b&owner=5b0c0d5e-0f1a-4b2c-8d3e-4f5a6b7c8d9e",
        "before=2031-01-01T00:00:00Z&page=2&page=3&unknown=ignored",
        "colour=green",
        "page=0",
        "page=x",
        "word=toolong",
        "word=a&word=b&word=c&word=d",
        "before=2031-01-01T00:00:00",
        "owner=nope",
    ],
)
async def test_values_and_errors_match_fastapis(query: str) -> None:
    answers = []
    for app in _apps():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(f"/items?{query}")
        body = response.json()
        if "error" in body:
            body["error"].pop("request_id", None)
        answers.append((response.status_code, body))
    assert answers[0] == answers[1]

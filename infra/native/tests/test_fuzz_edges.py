"""The edge-case fuzzer reaches every field of every public operation with its type's edges."""

from __future__ import annotations

import json
from typing import Any

from taskhub_stack.fuzz.edges import (
    EDGES_BY_KIND,
    EdgeCase,
    EdgeReport,
    Operation,
    Schemas,
    build_request,
    edge_cases,
)

DOCUMENT: dict[str, Any] = {
    "paths": {
        "/things/{thing_id}": {
            "patch": {
                "parameters": [
                    {
                        "name": "thing_id",
                        "in": "path",
                        "schema": {"type": "string", "format": "uuid"},
                    },
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
                    {"name": "Authorization", "in": "header", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                    }
                },
            }
        },
        "/things": {
            "get": {
                "parameters": [
                    {
                        "name": "due_before",
                        "in": "query",
                        "schema": {
                            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
                        },
                    },
                    {
                        "name": "tag",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ]
            }
        },
        "/internal/things": {
            "post": {"parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}]}
        },
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["title", "owner"],
                "properties": {
                    "title": {"type": "string", "minLength": 1},
                    "due_at": {
                        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
                    },
                    "webhook_url": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "payload": {"type": "object", "additionalProperties": True},
                    "owner": {"$ref": "#/components/schemas/Owner"},
                    "status": {"enum": ["todo", "done"]},
                },
            },
            "Owner": {
                "type": "object",
                "required": ["email"],
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "age": {"type": "integer"},
                },
            },
        }
    },
}


def _fields(cases: list[EdgeCase]) -> dict[tuple[str, str], str]:
    return {(case.location, case.field): case.kind for case in cases}


def test_every_field_of_every_public_operation_gets_the_edges_of_its_type() -> None:
    cases = list(edge_cases("svc", DOCUMENT))

    assert _fields(cases) == {
        ("path", "thing_id"): "uuid",
        ("header", "Idempotency-Key"): "text",
        ("body", "title"): "text",
        ("body", "due_at"): "datetime",
        ("body", "webhook_url"): "url",
        ("body", "tags[]"): "text",
        ("body", "payload"): "json",
        ("body", "owner.email"): "email",
        ("body", "owner.age"): "integer",
        ("body", "status"): "enum",
        ("query", "due_before"): "datetime",
        ("query", "tag"): "text",
        ("query", "page"): "integer",
    }
    per_field = {(c.location, c.field): 0 for c in cases}
    for case in cases:
        per_field[case.location, case.field] += 1
    assert all(count == len(EDGES_BY_KIND[_fields(cases)[key]]) for key, count in per_field.items())


def test_the_values_that_broke_services_before_are_among_the_edges() -> None:
    values = {kind: [value for _, value in edges] for kind, edges in EDGES_BY_KIND.items()}

    assert {"9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"} <= set(values["datetime"])
    assert "\ud800" in values["text"]
    assert "\x00" in values["text"]
    assert {"http://xn--ls8h.la/", "http://xn--a/"} <= set(values["url"])
    assert {2**31, 2**63, -(2**63) - 1} <= set(values["integer"])
    assert {"k": "\ud800"} in values["json"]


def test_a_valid_baseline_is_built_from_required_fields_and_hints() -> None:
    schemas = Schemas(DOCUMENT)
    thing = DOCUMENT["components"]["schemas"]["Thing"]

    body = schemas.example(thing, "", {"email": lambda: "a@example.com"})

    assert body == {"title": "edge", "owner": {"email": "a@example.com"}}


def _case(location: str, field: str, value: Any) -> EdgeCase:
    op = Operation("svc", "PATCH", "/things/{thing_id}", (), {"type": "object"})
    return EdgeCase(op, location, field, "text", "label", value)


def test_a_body_edge_is_sent_as_a_client_would_escape_it_next_to_the_valid_fields() -> None:
    parts = build_request(
        _case("body", "owner.email", "\ud800"),
        baseline={"title": "t", "owner": {"email": "a@example.com"}},
        path_values={"thing_id": "42"},
    )

    assert parts is not None
    assert parts.url == "/things/42"
    assert parts.content is not None
    assert b'"\\ud800"' in parts.content
    assert json.loads(parts.content) == {"title": "t", "owner": {"email": "\ud800"}}


def test_query_and_path_edges_are_percent_encoded_even_when_they_are_not_utf8() -> None:
    query = build_request(_case("query", "q", "\ud800"), baseline={}, path_values={"thing_id": "1"})
    path = build_request(
        _case("path", "thing_id", "a/\x00"), baseline={}, path_values={"thing_id": "1"}
    )

    assert query is not None
    assert query.url == "/things/1?q=%ED%A0%80"
    assert path is not None
    assert path.url.startswith("/things/a%2F%00")


def test_values_http_cannot_carry_are_skipped_not_sent() -> None:
    header = build_request(
        _case("header", "Idempotency-Key", "\u202e"), baseline={}, path_values={}
    )
    long_query = build_request(_case("query", "q", "x" * 10_000), baseline={}, path_values={})

    assert header is None
    assert long_query is None


def test_any_server_error_fails_the_run_and_is_reported() -> None:
    report = EdgeReport()
    report.statuses.update({422: 3, 500: 1})
    report.server_errors.append((_case("body", "title", "\ud800"), 500, "boom"))

    assert not report.passed
    assert report.cases == 4
    assert "500: PATCH /things/{thing_id} body:title = label" in report.summary()

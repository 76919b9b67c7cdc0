"""Edge inputs for every field of a service, generated from its OpenAPI document.

Each service's tests send these to every body field and query parameter its document
declares, so a field added later is covered without anyone remembering to list it: text
gets a lone surrogate and a NUL, date-times the edges of the supported range, URLs hosts
that are not valid IDNA, integers the 32- and 64-bit borders.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from taskhub_common.text import INSTANT_RANGE

Kind = Literal["text", "instant", "url", "integer", "json"]
Location = Literal["body", "query"]

# (label, value, words the 422's message for the field must contain)
TEXT_EDGES = [("lone-surrogate", "a\ud800b", "surrogate"), ("nul", "a\x00b", "NUL")]
INSTANT_EDGES = [
    ("max-date-at-minus-14h", "9999-12-31T23:59:59-14:00", INSTANT_RANGE),
    ("min-date-at-plus-14h", "0001-01-01T00:00:00+14:00", INSTANT_RANGE),
    ("just-after-the-range", "9999-12-30T23:59:59.000001Z", INSTANT_RANGE),
    ("just-before-the-range", "1969-12-31T23:59:59.999999Z", INSTANT_RANGE),
    ("1970-at-plus-1min", "1970-01-01T00:00:00+00:01", INSTANT_RANGE),
]
# The ends of the range, in UTC and in the farthest offsets: all accepted.
INSTANTS_INSIDE = [
    "1970-01-01T00:00:00Z",
    "1970-01-01T14:00:00+14:00",
    "1969-12-31T10:00:00-14:00",
    "9999-12-30T23:59:59Z",
    "9999-12-31T13:59:59+14:00",
    "9999-12-30T09:59:59-14:00",
]
URL_EDGES = [
    ("idna-emoji", "http://xn--ls8h.la/", "host"),
    ("idna-broken", "http://xn--a/", "host"),
    ("idna-in-subdomain", "https://xn--ls8h.example.com/hook", "host"),
    ("port-too-high", "http://example.com:65536/", "port"),
    ("port-zero", "http://example.com:0/", "port"),
]
INTEGER_EDGES = [
    ("2^31", 2**31, ""),
    ("2^63", 2**63, ""),
    ("2^64", 2**64, ""),
    ("-2^31-1", -(2**31) - 1, ""),
    ("-2^63-1", -(2**63) - 1, ""),
]
# Free-form JSON: every string inside, keys too, at any depth.
JSON_EDGES = [
    ("surrogate-value", {"a": {"b": ["x", "\ud800"]}}, "surrogate"),
    ("surrogate-key", {"a": {"\udfff": 1}}, "surrogate"),
    ("nul-value", {"a": ["\x00"]}, "NUL"),
    ("nul-key", {"a\x00": 1}, "NUL"),
]
EDGES: dict[Kind, list[tuple[str, Any, str]]] = {
    "text": TEXT_EDGES,
    "instant": INSTANT_EDGES,
    "url": URL_EDGES,
    "integer": INTEGER_EDGES,
    "json": JSON_EDGES,
}


@dataclass(frozen=True)
class InputField:
    """One body field (`names` is its path in the body) or query parameter of a route."""

    method: str
    path: str
    location: Location
    names: tuple[str, ...]
    kind: Kind
    repeated: bool = False

    @property
    def loc(self) -> str:
        """The `field` the error envelope names."""
        return ".".join((self.location, *self.names))

    @property
    def route(self) -> tuple[str, str]:
        return (self.method, self.path)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} {self.loc}"


@dataclass(frozen=True)
class EdgeCase:
    field: InputField
    label: str
    value: Any
    expected: str  # words the message must contain

    @property
    def id(self) -> str:
        return f"{self.field}:{self.label}"


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    branches = [branch for branch in schema.get("anyOf", ()) if branch != {"type": "null"}]
    if len(branches) == 1:
        return _resolve(spec, branches[0])
    return schema


def _kind(name: str, schema: dict[str, Any]) -> Kind | None:
    kind: Kind | None = None
    if schema.get("type") == "integer":
        kind = "integer"
    elif schema.get("type") == "object" and "properties" not in schema:
        kind = "json"
    elif schema.get("type") == "string" and "enum" not in schema:
        if schema.get("format") == "date-time":
            kind = "instant"
        elif name == "url" or name.endswith("_url"):
            kind = "url"
        elif schema.get("format") in (None, "email"):
            kind = "text"
    return kind


def _fields(
    spec: dict[str, Any], schema: dict[str, Any], prefix: tuple[str, ...]
) -> list[tuple[tuple[str, ...], Kind, bool]]:
    found: list[tuple[tuple[str, ...], Kind, bool]] = []
    for name, raw in _resolve(spec, schema).get("properties", {}).items():
        field = _resolve(spec, raw)
        repeated = field.get("type") == "array"
        if repeated:
            field = _resolve(spec, field.get("items", {}))
        if field.get("type") == "object" and "properties" in field:
            found += _fields(spec, field, (*prefix, name))
            continue
        kind = _kind(name, field)
        if kind is not None:
            found.append(((*prefix, name), kind, repeated))
    return found


def every_route_document(app: FastAPI, *unpublished: APIRouter) -> dict[str, Any]:
    """The app's OpenAPI document plus the routes of `unpublished` (the `/internal` routers,
    left out of the published document): they take input from other services and must
    refuse edge values just the same."""
    document = copy.deepcopy(app.openapi())
    routes = []
    for router in unpublished:
        for route in router.routes:
            if isinstance(route, APIRoute):
                route = copy.copy(route)
                route.include_in_schema = True
                routes.append(route)
    extra = get_openapi(title=app.title, version=app.version, routes=routes)
    document["paths"].update(extra["paths"])
    schemas = extra.get("components", {}).get("schemas", {})
    document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    return document


def input_fields(spec: dict[str, Any]) -> list[InputField]:
    """Every body field and query parameter of `spec` that has edge values to try."""
    fields: list[InputField] = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] != "query":
                    continue
                query = {"properties": {parameter["name"]: parameter["schema"]}}
                for names, kind, repeated in _fields(spec, query, ()):
                    fields.append(InputField(method, path, "query", names, kind, repeated))
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            if body is not None:
                for names, kind, repeated in _fields(spec, body, ()):
                    fields.append(InputField(method, path, "body", names, kind, repeated))
    return fields


def edge_cases(spec: dict[str, Any], *, kinds: tuple[Kind, ...] | None = None) -> list[EdgeCase]:
    """Every edge value for every field of `spec` (of the given kinds)."""
    cases = []
    for field in input_fields(spec):
        if kinds is not None and field.kind not in kinds:
            continue
        # Query strings are UTF-8 text: a lone surrogate cannot even be sent in one.
        edges = [
            edge
            for edge in EDGES[field.kind]
            if not (field.location == "query" and edge[0] == "lone-surrogate")
        ]
        cases += [EdgeCase(field, label, value, words) for label, value, words in edges]
    return cases


def with_value(base: dict[str, Any], field: InputField, value: Any) -> dict[str, Any]:
    """A copy of `base` (a body or query) with `value` at the field (in a list if repeated)."""
    result: dict[str, Any] = copy.deepcopy(base)
    target = result
    for name in field.names[:-1]:
        target = target.setdefault(name, {})
    target[field.names[-1]] = [value] if field.repeated else value
    return result


def json_body(body: dict[str, Any]) -> bytes:
    """`body` as JSON with every non-ASCII character escaped: a lone surrogate travels as
    the six characters `\\ud800`, as a hostile client sends it (UTF-8 cannot carry it)."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def named_errors(envelope: dict[str, Any], field: InputField) -> list[str]:
    """The messages the 422 envelope gives for `field` (or for items inside it)."""
    return [
        detail["message"]
        for detail in envelope["error"].get("details", ())
        if detail["field"] == field.loc or detail["field"].startswith(field.loc + ".")
    ]


def assert_refused_naming_the_field(response: httpx.Response, case: EdgeCase) -> None:
    """`case` was answered with a 422 that names its field, for the reason it expects."""
    assert response.status_code == 422, response.text
    messages = named_errors(response.json(), case.field)
    assert messages, response.text
    assert any(case.expected in message for message in messages), messages


async def send(
    client: httpx.AsyncClient,
    field: InputField,
    value: Any,
    *,
    base: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    path_values: dict[str, str] | None = None,
) -> httpx.Response:
    """Call the field's route with `value` in the field, the rest taken from `base`."""
    url = field.path.format(**(path_values or {}))
    filled = with_value(base or {}, field, value)
    if field.location == "query":
        return await client.request(field.method, url, params=filled, headers=headers)
    body_headers = {**(headers or {}), "Content-Type": "application/json"}
    return await client.request(field.method, url, content=json_body(filled), headers=body_headers)

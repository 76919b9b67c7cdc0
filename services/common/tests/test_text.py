"""The shared input types: safe text, instants in the supported range, e-mails, URLs."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, timedelta
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, EmailStr, Field, StringConstraints, ValidationError

from taskhub_common.input_edges import (
    INSTANT_EDGES,
    INSTANTS_INSIDE,
    URL_EDGES,
    edge_cases,
    input_fields,
    json_body,
    named_errors,
    with_value,
)
from taskhub_common.text import (
    INSTANT_DESCRIPTION,
    INSTANT_RANGE,
    MAX_INSTANT,
    MIN_INSTANT,
    SAFE_TEXT_PATTERN,
    Instant,
    NormalizedEmail,
    SafeText,
    instant_description,
    normalize_email,
    refuse_nul,
)
from taskhub_common.urls import HttpUrlText, check_http_url


class Sample(BaseModel):
    text: Annotated[str, StringConstraints(max_length=20, pattern=r"^\S+$"), SafeText]
    at: Instant | None = None
    due: Instant | None = Field(default=None, description=instant_description("Due."))
    url: HttpUrlText | None = None
    email: Annotated[EmailStr, SafeText, NormalizedEmail] | None = None


def _error(**fields: Any) -> tuple[str, str]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate({"text": "ok", **fields})
    error = caught.value.errors()[0]
    return ".".join(str(part) for part in error["loc"]), error["msg"]


@pytest.mark.parametrize(
    ("value", "words"),
    [("a\ud800", "surrogate"), ("\udfffb", "surrogate"), ("a\x00b", "NUL")],
)
def test_unsafe_text_is_refused_before_its_other_rules(value: str, words: str) -> None:
    location, message = _error(text=value)
    assert location == "text"
    assert words in message
    assert "unable to parse" not in message


@pytest.mark.parametrize("value", ["plain", "\U0001f680", "caf\u00e9", "\ufffd"])
def test_safe_text_keeps_every_encodable_character(value: str) -> None:
    assert Sample(text=value).text == value


def test_refuse_nul_names_the_problem() -> None:
    assert refuse_nul("fine") == "fine"
    with pytest.raises(ValueError, match="surrogate"):
        refuse_nul("\ud83d")


def test_the_schema_pattern_is_one_every_validator_can_use() -> None:
    schema = Sample.model_json_schema()["properties"]
    assert schema["text"]["pattern"] == r"^\S+$"  # a field's own pattern is kept
    assert schema["email"]["anyOf"][0]["pattern"] == SAFE_TEXT_PATTERN
    pattern = re.compile(SAFE_TEXT_PATTERN)
    assert pattern.match("caf\u00e9 \U0001f680")
    assert not pattern.match("a\x00")
    # No surrogate in the pattern: Rust's regex (jsonschema-rs, Schemathesis) rejects one.
    assert not re.search(r"\\u[dD][89a-fA-F]", SAFE_TEXT_PATTERN)


@pytest.mark.parametrize(("label", "value", "words"), INSTANT_EDGES, ids=lambda x: str(x))
def test_instants_outside_the_range_are_refused(label: str, value: str, words: str) -> None:
    location, message = _error(at=value)
    assert location == "at"
    assert INSTANT_RANGE in message


@pytest.mark.parametrize("value", INSTANTS_INSIDE)
def test_instants_at_the_ends_are_accepted_in_utc_and_arithmetic_holds(value: str) -> None:
    at = Sample(text="ok", at=value).at
    assert at is not None
    assert at.utcoffset() == timedelta(0)
    assert MIN_INSTANT <= at <= MAX_INSTANT
    # What the services do with an instant: a reminder's lead, a day's slack, rendering.
    assert (at - timedelta(days=7)).year >= 1969
    assert (at + timedelta(days=1)).astimezone(UTC).isoformat()
    assert Sample(text="ok", at=value).model_dump(mode="json")["at"][:4] in ("1970", "9999")


@pytest.mark.parametrize("value", [0, 1.5, "1700000000", True])
def test_numbers_are_not_instants(value: Any) -> None:
    assert _error(at=value)[1].endswith("must be an ISO 8601 date-time, not a number")


def test_naive_instants_are_refused() -> None:
    assert _error(at="2030-01-01T00:00:00")[0] == "at"


def test_the_range_is_stated_in_the_schema() -> None:
    properties = Sample.model_json_schema()["properties"]
    assert properties["at"]["anyOf"][0]["description"] == INSTANT_DESCRIPTION
    assert properties["due"]["description"] == f"Due. {INSTANT_DESCRIPTION}"


@pytest.mark.parametrize(("label", "url", "words"), URL_EDGES, ids=lambda x: str(x))
def test_unusable_urls_are_refused_naming_the_problem(label: str, url: str, words: str) -> None:
    location, message = _error(url=url)
    assert location == "url"
    assert words in message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/", "http(s)"),
        ("javascript:alert(1)", "http(s)"),
        ("http://exa mple.com/", "host"),
        ("http://a%2fb.example/", "host"),
        ("http://" + "a" * 64 + ".example/", "host"),
        ("http://x\ud800.example/", "surrogate"),
        ("http://[::1/", "http(s)"),
        ("https://example.com/" + "a" * 2048, "2048"),
    ],
)
def test_other_malformed_urls_are_refused(url: str, words: str) -> None:
    assert words in _error(url=url)[1]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://example.com:65535/p?q=1#f",
        "http://\u4f8b\u3048.jp/",
        "http://xn--r8jz45g.jp/",
        "http://[2001:db8::1]:8080/",
        "http://203.0.113.5/",
        "http://under_score.example./",
    ],
)
def test_usable_urls_are_kept_as_sent(url: str) -> None:
    assert Sample(text="ok", url=url).url == url
    assert check_http_url(url) == url


@pytest.mark.parametrize(
    "spelling",
    ["Jos\u00e9@Ex\u00e4mple.com", "Jose\u0301@Exa\u0308mple.COM", " jos\u00e9@ex\u00e4mple.com "],
)
def test_every_spelling_of_an_address_normalises_alike(spelling: str) -> None:
    expected = unicodedata.normalize("NFC", "jos\u00e9@ex\u00e4mple.com")
    assert normalize_email(spelling) == expected
    assert Sample(text="ok", email=spelling.strip()).email == expected


def test_text_that_is_not_an_address_is_still_normalised() -> None:
    assert normalize_email("Not An Addre\u0301ss") == unicodedata.normalize("NFC", "not an addréss")


# --- the OpenAPI walk the services' edge tests are generated from ------------------------

SPEC = {
    "paths": {
        "/things": {
            "post": {
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/c/schemas/Thing"}}}
                },
                "parameters": [
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "X-Key", "in": "header", "schema": {"type": "string"}},
                    {
                        "name": "tag",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                ],
            }
        }
    },
    "components": {
        "schemas": {
            "Thing": {
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["a"]},
                    "id": {"type": "string", "format": "uuid"},
                    "at": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
                    "webhook_url": {"type": "string"},
                    "payload": {"type": "object", "additionalProperties": True},
                    "inner": {"$ref": "#/c/schemas/Inner"},
                }
            },
            "Inner": {"type": "object", "properties": {"when": {"$ref": "#/c/schemas/When"}}},
            "When": {"type": "string", "format": "date-time"},
        }
    },
}


def test_every_field_of_a_document_is_found_by_kind() -> None:
    found = {(field.loc, field.kind, field.repeated) for field in input_fields(SPEC)}
    assert found == {
        ("query.page", "integer", False),
        ("query.tag", "text", True),
        ("body.name", "text", False),
        ("body.at", "instant", False),
        ("body.webhook_url", "url", False),
        ("body.payload", "json", False),
        ("body.inner.when", "instant", False),
    }


def test_edge_cases_cover_each_field_and_skip_what_a_query_cannot_carry() -> None:
    cases = edge_cases(SPEC)
    assert {case.id for case in cases if case.field.loc == "query.tag"} == {
        "POST /things query.tag:nul"
    }
    assert {case.field.loc for case in edge_cases(SPEC, kinds=("url",))} == {"body.webhook_url"}


def test_a_value_is_placed_at_its_field_and_sent_escaped() -> None:
    fields = {field.loc: field for field in input_fields(SPEC)}
    body = with_value({"name": "n"}, fields["body.inner.when"], "x")
    assert body == {"name": "n", "inner": {"when": "x"}}
    assert with_value({}, fields["query.tag"], "\x00") == {"tag": ["\x00"]}
    assert json_body({"s": "\ud800"}) == b'{"s": "\\ud800"}'
    envelope = {
        "error": {
            "details": [{"field": "query.tag.0", "message": "m"}, {"field": "x", "message": "n"}]
        }
    }
    assert named_errors(envelope, fields["query.tag"]) == ["m"]

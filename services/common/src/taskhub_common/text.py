"""Input constraints every service's schemas share, validated and documented alike.

A constraint that is only checked, not declared in the OpenAPI document, makes a client (or a
fuzzer) send a body the document calls valid and get a 422 back; these annotations put the
rule into the JSON schema as well.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError, core_schema

# Text PostgreSQL can store and UTF-8 can encode: no U+0000 and no lone UTF-16 surrogate
# (JSON's "\ud800" decodes to one). The schema's pattern names NUL only: a lone surrogate is
# not Unicode text at all (I-JSON, RFC 7493 section 2.1), and the regex engines of schema
# validators and fuzzers (Rust's, for one) refuse a surrogate in a pattern, dropping it whole.
SAFE_TEXT_PATTERN = r"^[^\x00]*$"
NO_NUL_PATTERN = SAFE_TEXT_PATTERN  # the name other modules import
NO_NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must not contain lone UTF-16 surrogates (U+D800 to U+DFFF)"
_SURROGATE = re.compile("[\ud800-\udfff]")
# Pydantic reads a number (or numeric text) as a Unix timestamp; the documented type is an
# ISO 8601 `date-time` string, so a number is refused, as the schema says.
_NUMERIC = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
DATE_TIME_MESSAGE = "must be an ISO 8601 date-time, not a number"


def refuse_nul(value: str) -> str:
    """`value` unchanged if PostgreSQL and UTF-8 can hold it; else a ValueError saying why."""
    # PostgreSQL text and jsonb cannot hold U+0000, and a lone surrogate cannot be encoded
    # for the database at all: refusing both here keeps them a 422, not a 500.
    if "\x00" in value:
        raise ValueError(NO_NUL_MESSAGE)
    if _SURROGATE.search(value):
        raise ValueError(SURROGATE_MESSAGE)
    return value


def _safe_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            refuse_nul(value)
        except ValueError as exc:
            raise PydanticCustomError("unsafe_text", str(exc)) from None
    return value


class _SafeText:
    """`Annotated[str, SafeText]`: refuses NUL (declared by a `pattern`) and lone surrogates.

    The check runs before the string's own constraints: pydantic's pattern engine would
    otherwise answer a lone surrogate with a vague "unable to parse" message.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(_safe_text, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.setdefault("pattern", SAFE_TEXT_PATTERN)
        return json_schema

    def __repr__(self) -> str:
        return "SafeText"


SafeText = _SafeText()
# The older name: refusing NUL alone was not enough, every user of it gets the full rule.
NoNul = SafeText


def _date_time_text(value: Any) -> Any:
    if isinstance(value, int | float):  # bool too: it is an int
        raise ValueError(DATE_TIME_MESSAGE)
    if isinstance(value, str) and _NUMERIC.match(value):
        raise ValueError(DATE_TIME_MESSAGE)
    return value


# `Annotated[datetime, DateTimeText]`: only ISO 8601 text, as the schema's `date-time` says.
DateTimeText = BeforeValidator(_date_time_text)


class _NotNullable:
    """`Annotated[X | None, NotNullable] = None`: the field may be left out, but not sent as null.

    For partial updates: Python sees `None` as "absent" and a validator refuses an explicit
    null, while the schema declares the field as plain `X`, as that validator enforces.
    """

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        branches = json_schema.get("anyOf")
        if isinstance(branches, list):
            kept = [branch for branch in branches if branch != {"type": "null"}]
            if len(kept) == 1:
                json_schema.pop("anyOf")
                json_schema.update(kept[0])
            else:
                json_schema["anyOf"] = kept
        return json_schema

    def __repr__(self) -> str:
        return "NotNullable"


NotNullable = _NotNullable()


# --- instants ----------------------------------------------------------------------------

# Every date-time a client sends lies in this range, after applying its offset: Python's
# `datetime` ends at 9999-12-31, so one spare day keeps `due_at - lead`, `+ timedelta(days=1)`
# and the UTC rendering of any accepted value clear of an OverflowError, and PostgreSQL's
# `timestamptz` holds far more. Before 1970 nothing in TaskHub can be due or sent.
MIN_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(9999, 12, 30, 23, 59, 59, tzinfo=UTC)
INSTANT_RANGE = "from 1970-01-01T00:00:00Z to 9999-12-30T23:59:59Z inclusive"
INSTANT_DESCRIPTION = f"An ISO 8601 date-time with offset, {INSTANT_RANGE} (in UTC)."
INSTANT_RANGE_MESSAGE = f"must be {INSTANT_RANGE}, after applying the offset"


def _in_range(value: datetime) -> datetime:
    # Aware datetimes compare without converting, so an edge offset cannot overflow here.
    if not MIN_INSTANT <= value <= MAX_INSTANT:
        raise PydanticCustomError("instant_range", INSTANT_RANGE_MESSAGE)
    # In UTC from here on: with a +14:00 offset even an in-range value plus a day overflows.
    return value.astimezone(UTC)


class _InstantRange:
    """`Annotated[AwareDatetime, InstantRange]`: in the supported range, converted to UTC."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_in_range, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.setdefault("description", INSTANT_DESCRIPTION)
        return json_schema

    def __repr__(self) -> str:
        return "InstantRange"


InstantRange = _InstantRange()
# The type of every date-time field and parameter a client (or a service) sends.
Instant = Annotated[AwareDatetime, DateTimeText, InstantRange]


def instant_description(text: str) -> str:
    """A field's own description followed by the accepted range (a field's text replaces
    the type's in the schema)."""
    return f"{text} {INSTANT_DESCRIPTION}"


# --- e-mail addresses --------------------------------------------------------------------


def normalize_email(value: str) -> str:
    """An e-mail address as stored and looked up: NFC, domain IDNA-checked, lower-cased.

    The same steps `EmailStr` takes, so a lookup by any spelling of an address (NFD or NFC,
    any case) finds the account registered under another; text that is not an address is
    only NFC-normalised and lower-cased (it matches nothing).
    """
    with contextlib.suppress(PydanticCustomError):
        _, value = validate_email(value)
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value.strip()).lower())


# Every e-mail field of every service: `Annotated[EmailStr | str, ..., NormalizedEmail]`.
NormalizedEmail = AfterValidator(normalize_email)

"""Input constraints every service's schemas share, validated and documented alike.

A constraint that is only checked, not declared in the OpenAPI document, makes a client (or a
fuzzer) send a body the document calls valid and get a 422 back; these annotations put the
rule into the JSON schema as well.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# ECMA-262 (JSON Schema) and Python regex alike: no U+0000 anywhere in the string.
NO_NUL_PATTERN = r"^[^\x00]*$"
NO_NUL_MESSAGE = "must not contain NUL characters"
# Pydantic reads a number (or numeric text) as a Unix timestamp; the documented type is an
# ISO 8601 `date-time` string, so a number is refused, as the schema says.
_NUMERIC = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
DATE_TIME_MESSAGE = "must be an ISO 8601 date-time, not a number"


def refuse_nul(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold U+0000: refusing it keeps it a 422, not a 500.
    if "\x00" in value:
        raise ValueError(NO_NUL_MESSAGE)
    return value


class _NoNul:
    """`Annotated[str, NoNul]`: refuses NUL and says so with a `pattern` in the schema."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(refuse_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        target.setdefault("pattern", NO_NUL_PATTERN)
        return json_schema

    def __repr__(self) -> str:
        return "NoNul"


NoNul = _NoNul()


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

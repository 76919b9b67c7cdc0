"""Validation pieces shared by notify-svc's input schemas."""

from __future__ import annotations

import math
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator

from taskhub_common.text import refuse_nul

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_PAYLOAD_DEPTH = 32


def _check_text(text: str, where: str) -> None:
    try:
        refuse_nul(text)
    except ValueError as exc:
        raise ValueError(f"{where} {exc}.") from None


def _check_json_value(value: Any, depth: int) -> None:
    if depth > MAX_PAYLOAD_DEPTH:
        raise ValueError(f"The payload is nested deeper than {MAX_PAYLOAD_DEPTH} levels.")
    if isinstance(value, str):
        _check_text(value, "A string in the payload")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinite numbers are not allowed.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, "A key in the payload")
            _check_json_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json_value(item, depth + 1)


def check_json_payload(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object PostgreSQL's jsonb can store, of bounded depth and size."""
    _check_json_value(value, 1)
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:  # integers beyond 64 bits
        raise ValueError("The payload holds a number that is too large.") from exc
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"The payload is larger than {MAX_PAYLOAD_BYTES} bytes.")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(check_json_payload)]

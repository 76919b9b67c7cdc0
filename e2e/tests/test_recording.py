"""Redaction: no password, token or secret header survives into a report."""

from __future__ import annotations

import json

from taskhub_e2e.recording import (
    MAX_BODY_CHARS,
    REDACTED,
    redact_body,
    redact_headers,
    redact_json,
    trace_id_from_headers,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


def test_secret_fields_are_masked_at_any_depth() -> None:
    body = {
        "email": "a@example.com",
        "Password": "p",
        "tokens": [{"access": JWT, "refresh": "r", "expires_in": 900}],
    }

    assert redact_json(body) == {
        "email": "a@example.com",
        "Password": REDACTED,
        "tokens": [{"access": REDACTED, "refresh": REDACTED, "expires_in": 900}],
    }


def test_a_token_inside_free_text_is_masked() -> None:
    assert redact_json({"message": f"bad token {JWT} given"}) == {
        "message": f"bad token {REDACTED} given"
    }


def test_secret_headers_are_masked_and_others_kept() -> None:
    headers = {"Authorization": f"Bearer {JWT}", "X-Internal-Token": "s", "X-Request-ID": "r1"}

    assert redact_headers(headers) == {
        "Authorization": REDACTED,
        "X-Internal-Token": REDACTED,
        "X-Request-ID": "r1",
    }


def test_api_keys_are_masked_in_headers_bodies_and_text() -> None:
    key = "thk_" + "A1b2" * 8 + "0aZ9xY"

    assert redact_headers({"X-API-Key": key}) == {"X-API-Key": REDACTED}
    assert redact_json({"id": "k1", "key": key}) == {"id": "k1", "key": REDACTED}
    assert redact_json({"message": f"refused {key[:-1]} at once"}) == {
        "message": f"refused {REDACTED} at once"
    }


def test_json_bodies_are_redacted_and_pretty_printed() -> None:
    raw = json.dumps({"refresh": "r", "name": "Alice"}).encode()

    assert json.loads(redact_body(raw, "application/json")) == {
        "refresh": REDACTED,
        "name": "Alice",
    }


def test_text_bodies_are_redacted_and_large_bodies_cut() -> None:
    text = redact_body(f"{JWT} {'x' * 2 * MAX_BODY_CHARS}".encode(), "text/plain")

    assert JWT not in text
    assert text.endswith("more characters)")
    assert len(text) < MAX_BODY_CHARS + 100


def test_binary_bodies_are_summarised() -> None:
    assert redact_body(b"\x89PNG....", "image/png") == "(8 bytes of image/png)"


def test_trace_ids_come_from_any_trace_header() -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_from_headers({"traceparent": f"00-{trace}-00f067aa0ba902b7-01"}) == trace
    assert trace_id_from_headers({"X-Trace-ID": trace}) == trace
    assert trace_id_from_headers({"content-type": "application/json"}) is None


def test_a_lone_surrogate_in_a_body_is_recorded_as_its_escape() -> None:
    # Edge-case scenarios send one on purpose; the record must still encode as UTF-8.
    rendered = redact_body(b'{"name": "\\ud800"}', "application/json")

    rendered.encode("utf-8")
    assert "\\ud800" in rendered

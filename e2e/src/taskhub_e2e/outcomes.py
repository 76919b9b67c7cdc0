"""What the business words of a `Then` step mean in HTTP terms, and checks that say why.

The feature files say "she is told the e-mail is taken"; this table is the one place that
knows it means a 409 with the CONFLICT envelope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from taskhub_e2e.client import error_code

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class Outcome:
    statuses: frozenset[int]
    codes: frozenset[str]


def _outcome(statuses: set[int], codes: set[str]) -> Outcome:
    return Outcome(frozenset(statuses), frozenset(codes))


OUTCOMES: dict[str, Outcome] = {
    "told to sign in": _outcome({401}, {"UNAUTHORIZED"}),
    "told the credentials are wrong": _outcome({401}, {"INVALID_CREDENTIALS"}),
    "told it is forbidden": _outcome({403}, {"FORBIDDEN"}),
    "told that nothing is there": _outcome({404}, {"NOT_FOUND"}),
    "told the e-mail is taken": _outcome({409}, {"CONFLICT"}),
    "told the key was used for another request": _outcome({409}, {"CONFLICT"}),
    "told it can no longer be canceled": _outcome({409}, {"CONFLICT"}),
    "told the body is too large": _outcome({413}, {"PAYLOAD_TOO_LARGE"}),
    "told the request is invalid": _outcome({422}, {"VALIDATION_ERROR"}),
    "told to slow down": _outcome({429}, {"RATE_LIMITED"}),
    "told the service is unavailable": _outcome({502, 503}, {"BAD_GATEWAY", "SERVICE_UNAVAILABLE"}),
}


def describe(response: httpx.Response) -> str:
    """One line naming the exchange, for assertion messages."""
    request = response.request
    return (
        f"{request.method} {request.url.path} answered {response.status_code} "
        f"(X-Request-ID {response.headers.get('x-request-id', '-')}): {response.text[:300]}"
    )


def expect_status(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, f"expected {statuses}; {describe(response)}"


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise AssertionError(f"the answer is not JSON; {describe(response)}") from None


def expect_outcome(response: httpx.Response, phrase: str) -> None:
    """The response is the error `phrase` stands for, in the envelope, with its request id."""
    outcome = OUTCOMES.get(phrase)
    assert outcome is not None, f"no outcome called {phrase!r}; known: {sorted(OUTCOMES)}"
    assert response.status_code in outcome.statuses, (
        f"expected {sorted(outcome.statuses)} for {phrase!r}; {describe(response)}"
    )
    expect_error_envelope(response)
    code = error_code(response)
    assert code in outcome.codes, f"expected code {sorted(outcome.codes)}; {describe(response)}"


def expect_error_envelope(response: httpx.Response) -> dict[str, Any]:
    """`{"error": {"code", "message", "request_id"}}`, the id equal to the header's."""
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"an error must be JSON; {describe(response)}"
    )
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"not the error envelope; {describe(response)}"
    for part in ("code", "message"):
        assert isinstance(error.get(part), str), f"the envelope lacks {part}; {describe(response)}"
    header_id = response.headers.get("x-request-id")
    assert header_id, f"no X-Request-ID header; {describe(response)}"
    assert error.get("request_id") == header_id, (
        f"the envelope's request id differs from the header's; {describe(response)}"
    )
    return error

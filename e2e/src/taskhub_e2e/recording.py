"""What a scenario sent and received, with secrets redacted, for the failure report."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

REDACTED = "***"
# JSON keys whose values are secrets wherever they appear (compared lower-cased).
SECRET_KEYS = frozenset(
    {
        "password",
        "access",
        "refresh",
        "token",
        "access_token",
        "refresh_token",
        "secret",
        "authorization",
        "api_key",
    }
)
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "x-internal-token",
        "proxy-authorization",
        "x-api-key",
    }
)
# A compact JWS anywhere in a text (a token inside a message, a header we did not foresee).
JWT_PATTERN = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
# A TaskHub API key (or most of one) anywhere in a text: in a body, a URL, a message.
API_KEY_PATTERN = re.compile(r"thk_[A-Za-z0-9]{8,}")
# Enough to see what went wrong; a report full of 1 MiB bodies helps nobody.
MAX_BODY_CHARS = 4000
TRACE_HEADERS = ("x-trace-id", "traceresponse", "traceparent")


def redact_json(value: Any) -> Any:
    """A copy of a decoded JSON value with every secret-named field and every JWT masked."""
    if isinstance(value, dict):
        return {
            key: REDACTED if key.lower() in SECRET_KEYS else redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    return API_KEY_PATTERN.sub(REDACTED, JWT_PATTERN.sub(REDACTED, text))


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: REDACTED if name.lower() in SECRET_HEADERS else redact_text(value)
        for name, value in headers.items()
    }


def redact_body(raw: bytes, content_type: str) -> str:
    """A printable, redacted, bounded rendering of a request or response body."""
    if not raw:
        return ""
    if "json" in content_type or raw[:1] in (b"{", b"["):
        try:
            decoded = json.loads(raw)
        except ValueError:
            pass
        else:
            return _bounded(json.dumps(redact_json(decoded), indent=2, ensure_ascii=False))
    if not content_type.startswith(("text/", "application/")):
        return f"({len(raw)} bytes of {content_type or 'unknown type'})"
    return _bounded(redact_text(raw.decode("utf-8", errors="replace")))


def _bounded(text: str) -> str:
    # A lone surrogate (sent on purpose by edge-case scenarios) cannot be UTF-8: spelled as
    # its escape, the report still travels between xdist workers and into the HTML page.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= MAX_BODY_CHARS:
        return text
    return f"{text[:MAX_BODY_CHARS]}\n... ({len(text) - MAX_BODY_CHARS} more characters)"


@dataclass
class Exchange:
    """One request and its answer (or the error that replaced the answer)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None
    response_headers: dict[str, str]
    response_body: str
    request_id: str | None
    trace_id: str | None
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExchangeLog:
    """The exchanges of one scenario, oldest first."""

    exchanges: list[Exchange] = field(default_factory=list)

    def add(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)

    def last_failing(self) -> Exchange | None:
        """The latest exchange that went wrong, which is usually what a failure is about."""
        for exchange in reversed(self.exchanges):
            if exchange.error or (exchange.status is not None and exchange.status >= 400):
                return exchange
        return None

    def request_ids(self) -> list[str]:
        return [exchange.request_id for exchange in self.exchanges if exchange.request_id]


def trace_id_from_headers(headers: dict[str, str]) -> str | None:
    """The trace id a response names: `X-Trace-ID`, or the id inside a W3C trace header."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in TRACE_HEADERS:
        value = lowered.get(name)
        if not value:
            continue
        parts = value.split("-")
        # traceparent / traceresponse: version-traceid-spanid-flags.
        return parts[1] if len(parts) == 4 else value
    return None

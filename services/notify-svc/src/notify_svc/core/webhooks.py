"""Sending one webhook: signed timestamp, delivery id and body; checked and pinned address,
no redirects, bounded I/O.

The signature follows Stripe's and Standard Webhooks' scheme, so a captured delivery
cannot be replayed later nor re-labelled with another delivery id:

    X-TaskHub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<delivery id>.<raw body>">

`verify_signature` is the receiver's check, the very function the README documents.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from opentelemetry import trace

from notify_svc.core import ssrf
from taskhub_common.tracing import keep_trace_context_private

DELIVERY_HEADER = "X-TaskHub-Delivery"
SIGNATURE_HEADER = "X-TaskHub-Signature"

_tracer = trace.get_tracer(__name__)


class WebhookFailed(Exception):
    """The receiver did not accept the delivery; `permanent` failures are not retried.

    The message is stored as the job's `last_error` and shown to its owner: it names what
    went wrong without echoing the receiver's body.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class WebhookLimits:
    allowlist: frozenset[str]
    timeout_seconds: float
    dns_timeout_seconds: float
    max_response_bytes: int


def signature(secret: bytes, *, timestamp: int, delivery_id: str, body: bytes) -> str:
    """`t=<timestamp>,v1=<hex HMAC-SHA256 of "<t>.<delivery id>.<raw body>">`."""
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"


# --- The receiver's check, as the README documents it (keep the two identical). ---
def verify_signature(
    secret: bytes,
    header: str,
    delivery_id: str,
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """True when `header` (X-TaskHub-Signature) signs this delivery id and raw body and
    its timestamp is at most `tolerance_seconds` away from now."""
    fields = [item.strip().split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for name, value in fields if name == "t"]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(value.encode(), expected.encode())
        for name, value in fields
        if name == "v1"
    )


async def read_capped(response: httpx.Response, limit: int) -> int:
    """Read at most `limit` bytes of the body and stop: a receiver cannot flood us."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received >= limit:
            break
    return min(received, limit)


async def _checked_target(url: str, limits: WebhookLimits) -> ssrf.CheckedTarget:
    try:
        target = ssrf.parse_target(url)
        return await ssrf.check_target(
            target, allowlist=limits.allowlist, dns_timeout=limits.dns_timeout_seconds
        )
    except ssrf.UnsafeTarget as exc:
        raise WebhookFailed(str(exc), permanent=True) from exc
    except ssrf.TargetUnresolvable as exc:
        raise WebhookFailed(str(exc)) from exc


async def post_webhook(
    *, url: str, payload: Any, delivery_id: str, secret: bytes, limits: WebhookLimits
) -> int:
    """POST `payload` to `url`; the receiver's status code when it is 2xx, else `WebhookFailed`.

    The host is resolved and checked here, at delivery time, and the connection goes to
    the checked address (Host header and TLS SNI carry the name), so a DNS answer that
    changes after the check is never used.
    """
    checked = await _checked_target(url, limits)
    target = checked.target
    body = orjson.dumps(payload)
    headers = {
        "Host": ssrf.host_header(target),
        "Content-Type": "application/json",
        "User-Agent": "TaskHub-Webhooks/1.0",
        DELIVERY_HEADER: delivery_id,
        # Signed at each attempt: a retry carries a fresh timestamp, the same delivery id.
        SIGNATURE_HEADER: signature(
            secret, timestamp=int(time.time()), delivery_id=delivery_id, body=body
        ),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    with _tracer.start_as_current_span("webhook POST", kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute("server.address", target.host)
        status = await _send(checked, body, headers, extensions, limits)
        span.set_attribute("http.response.status_code", status)
    if 300 <= status < 400:
        raise WebhookFailed(f"The receiver answered with a redirect (HTTP {status}); not followed.")
    if not 200 <= status < 300:
        raise WebhookFailed(f"The receiver answered HTTP {status}.")
    return status


async def _send(
    checked: ssrf.CheckedTarget,
    body: bytes,
    headers: dict[str, str],
    extensions: dict[str, str],
    limits: WebhookLimits,
) -> int:
    """POST to the checked address; the receiver's status, its body read up to the cap."""
    try:
        async with (
            asyncio.timeout(limits.timeout_seconds),
            # trust_env=False: a proxy from the environment would resolve the name itself.
            keep_trace_context_private(
                httpx.AsyncClient(
                    timeout=limits.timeout_seconds, follow_redirects=False, trust_env=False
                )
            ) as client,
            client.stream(
                "POST",
                ssrf.pinned_request_url(checked),
                content=body,
                headers=headers,
                extensions=extensions,
            ) as response,
        ):
            await read_capped(response, limits.max_response_bytes)
    except TimeoutError as exc:
        raise WebhookFailed("The receiver did not answer in time.") from exc
    except httpx.HTTPError as exc:
        raise WebhookFailed("The receiver could not be reached.") from exc
    return response.status_code

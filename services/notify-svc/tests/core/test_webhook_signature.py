"""Webhook signatures: what they cover, and the receiver's documented check (no network)."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from notify_svc.core.webhooks import signature, verify_signature

SECRET = b"whsec-test"
DELIVERY = "0b6f1d2e-4c3a-4f1e-9d7c-2a5b8e6f0c11"
BODY = b'{"event": "task.done", "n": [1, 2]}'
README = Path(__file__).resolve().parents[2] / "README.md"

Verifier = Callable[..., bool]


def _readme_code() -> str:
    section = README.read_text().split("## Verifying a webhook", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README has no verification function"
    return match.group(1)


def _readme_verifier() -> Verifier:
    namespace: dict[str, Any] = {}
    exec(compile(_readme_code(), str(README), "exec"), namespace)  # noqa: S102 - our own docs
    verifier: Verifier = namespace["verify_signature"]
    return verifier


@pytest.fixture(params=["service", "readme"])
def verify(request: pytest.FixtureRequest) -> Verifier:
    """The module's verifier and the README's copy: both must behave the same."""
    return verify_signature if request.param == "service" else _readme_verifier()


def test_the_readme_documents_the_very_function() -> None:
    assert inspect.getsource(verify_signature) in _readme_code()


def test_the_signature_is_hmac_sha256_of_timestamp_delivery_id_and_body() -> None:
    header = signature(SECRET, timestamp=1700000000, delivery_id=DELIVERY, body=BODY)
    signed = b"1700000000." + DELIVERY.encode() + b"." + BODY
    assert header == f"t=1700000000,v1={hmac.new(SECRET, signed, hashlib.sha256).hexdigest()}"


def test_a_fresh_genuine_delivery_is_accepted(verify: Verifier) -> None:
    now = int(time.time())
    header = signature(SECRET, timestamp=now, delivery_id=DELIVERY, body=BODY)
    assert verify(SECRET, header, DELIVERY, BODY)
    assert verify(SECRET, header, DELIVERY, BODY, now=now + 299)


@pytest.mark.parametrize(
    ("changed", "header_of", "delivery_id", "body"),
    [
        ("the timestamp", lambda now, sig: sig.replace(f"t={now}", f"t={now + 1}"), DELIVERY, BODY),
        ("the delivery id", lambda now, sig: sig, "another-delivery", BODY),
        ("the body", lambda now, sig: sig, DELIVERY, BODY + b" "),
        (
            "the secret",
            lambda now, sig: signature(b"other", timestamp=now, delivery_id=DELIVERY, body=BODY),
            DELIVERY,
            BODY,
        ),
    ],
)
def test_changing_any_signed_part_breaks_the_signature(
    verify: Verifier,
    changed: str,
    header_of: Callable[[int, str], str],
    delivery_id: str,
    body: bytes,
) -> None:
    now = int(time.time())
    genuine = signature(SECRET, timestamp=now, delivery_id=DELIVERY, body=BODY)
    assert not verify(SECRET, header_of(now, genuine), delivery_id, body), changed


@pytest.mark.parametrize("age", [301, 3600, -301])
def test_a_timestamp_outside_the_tolerance_is_refused(verify: Verifier, age: int) -> None:
    now = int(time.time())
    replayed = signature(SECRET, timestamp=now - age, delivery_id=DELIVERY, body=BODY)
    assert not verify(SECRET, replayed, DELIVERY, BODY, now=now)
    assert verify(SECRET, replayed, DELIVERY, BODY, now=now, tolerance_seconds=abs(age))


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha256=" + "0" * 64,
        "v1=" + "0" * 64,
        "t=abc,v1=00",
        "t=²,v1=00",
        "t=1,t=2,v1=00",
        "t=-5,v1=00",
        "t={now},v1=é",
        "t={now}",
    ],
)
def test_malformed_headers_are_refused_without_error(verify: Verifier, header: str) -> None:
    assert not verify(SECRET, header.format(now=int(time.time())), DELIVERY, BODY)

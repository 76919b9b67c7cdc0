"""Forged variants of a real token, for the scenarios that prove the services refuse them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, claims and the signature segment of a compact JWS."""
    header, payload, signature = token.split(".")
    return json.loads(_b64decode(header)), json.loads(_b64decode(payload)), signature


def _segment(value: dict[str, Any]) -> str:
    return _b64encode(json.dumps(value, separators=(",", ":")).encode())


def tampered(token: str) -> str:
    """The same signature over claims that now say `role: admin` (and a later expiry)."""
    header, claims, signature = split(token)
    claims["role"] = "admin"
    claims["exp"] = int(claims.get("exp", 0)) + 3600
    return f"{_segment(header)}.{_segment(claims)}.{signature}"


def unsigned(token: str, alg: str = "none") -> str:
    """The claims with `alg: none` (in the given letter case) and no signature."""
    header, claims, _signature = split(token)
    header["alg"] = alg
    return f"{_segment(header)}.{_segment(claims)}."


def signed_with_own_key(token: str) -> str:
    """The claims signed RS256 by a key the attacker made, under the real `kid`."""
    header, claims, _signature = split(token)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64encode(signature)}"


# The Gherkin names of the forgeries (features/auth.feature).
FORGERIES: dict[str, Callable[[str], str]] = {
    "tampered": tampered,
    "unsigned": unsigned,
    "unsigned in mixed case": lambda token: unsigned(token, alg="nOnE"),
    "signed with a stranger's key": signed_with_own_key,
}

"""Request and response bodies of registration, login, refresh, logout and the JWKS."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from auth_svc.models.user import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH
from auth_svc.schemas.common import InputModel, SafeText
from taskhub_common.text import NormalizedEmail

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
# A signed JWT is well under this; anything longer is not one of ours.
TOKEN_MAX_LENGTH = 4096

# Every e-mail field ends in NormalizedEmail, so any spelling of an address (NFD or NFC,
# any case) is stored and looked up as one.
Email = Annotated[EmailStr, SafeText, NormalizedEmail]
# At login any text: a malformed e-mail simply matches no account (same 401 as a wrong one).
LoginEmail = Annotated[
    str, StringConstraints(min_length=1, max_length=EMAIL_MAX_LENGTH), SafeText, NormalizedEmail
]
Password = Annotated[
    str,
    StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH),
    SafeText,
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH),
    SafeText,
]
Token = Annotated[str, StringConstraints(min_length=1, max_length=TOKEN_MAX_LENGTH), SafeText]


class RegisterRequest(InputModel):
    email: Email
    password: Password
    name: Name


class LoginRequest(InputModel):
    email: LoginEmail
    password: Annotated[
        str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH), SafeText
    ]


class RefreshRequest(InputModel):
    refresh: Token


class TokenPair(BaseModel):
    access: str
    refresh: str
    expires_in: int = Field(description="Lifetime of the access token in seconds.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name


class PublicJwk(BaseModel):
    kty: Literal["RSA"]
    kid: str
    use: Literal["sig"]
    alg: Literal["RS256"]
    n: str
    e: str


class Jwks(BaseModel):
    keys: list[PublicJwk]

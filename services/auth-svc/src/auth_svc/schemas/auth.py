"""Request and response bodies of registration, login, refresh, logout and the JWKS."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, StringConstraints

from auth_svc.models.user import EMAIL_MAX_LENGTH, NAME_MAX_LENGTH
from auth_svc.schemas.common import InputModel, NoNul

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
# A signed JWT is well under this; anything longer is not one of ours.
TOKEN_MAX_LENGTH = 4096

Email = Annotated[EmailStr, AfterValidator(str.lower)]
Password = Annotated[
    str, StringConstraints(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH), NoNul
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH), NoNul
]


class RegisterRequest(InputModel):
    email: Email
    password: Password
    name: Name


class LoginRequest(InputModel):
    # Any string: a malformed e-mail simply matches no account (same 401 as a wrong one).
    email: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, to_lower=True, min_length=1, max_length=EMAIL_MAX_LENGTH
        ),
        NoNul,
    ]
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX_LENGTH), NoNul]


class RefreshRequest(InputModel):
    refresh: Annotated[str, StringConstraints(min_length=1, max_length=TOKEN_MAX_LENGTH)]


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

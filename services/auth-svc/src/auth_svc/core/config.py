"""auth-svc settings, read from `AUTH_*` environment variables."""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from typing import Self

from pydantic import EmailStr, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from taskhub_common.settings import ServiceSettings


def _hashing_slots() -> int:
    """CPUs this process may use, less one that stays free for the event loop.

    argon2 saturates a core per hash; with every core hashing, token checks and other
    requests queue behind the hashes (measured on 2 cores: /auth/me p99 13x its idle
    value with 2 concurrent hashes, under 3x with 1).
    """
    return max(1, len(os.sched_getaffinity(0)) - 1)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    service_name: str = "auth-svc"

    # Signing keys: every `*.pem` private RSA key in this folder is loaded; the newest signs.
    keys_dir: str = ".stack/keys"
    key_size: int = Field(default=2048, ge=2048, le=8192)

    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=7 * 86_400, ge=300, le=90 * 86_400)

    # Failed-login throttling (Redis counters per fixed window).
    login_account_max_failures: int = Field(default=5, ge=1, le=1000)
    login_ip_max_failures: int = Field(default=20, ge=1, le=100_000)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=86_400)

    # Concurrent argon2 computations on this host, across the service's worker processes;
    # more would only queue threads behind busy cores and starve the event loops.
    password_hash_concurrency: int = Field(default_factory=_hashing_slots, ge=1, le=64)
    # Where the workers of one host share those slots (lock files; any private folder).
    password_hash_slots_dir: str = os.path.join(tempfile.gettempdir(), "taskhub-auth-hashing")

    # The header the gateway sets to the client address it saw (it overwrites client
    # values); empty means "use the peer address".
    client_ip_header: str = "X-Real-IP"

    # Bootstrap: when both are set, this account exists and is an admin after startup.
    admin_email: EmailStr | None = None
    admin_password: SecretStr | None = None
    admin_name: str = Field(default="Administrator", min_length=1, max_length=100)

    @field_validator("admin_email", "admin_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _admin_needs_both(self) -> Self:
        if (self.admin_email is None) != (self.admin_password is None):
            raise ValueError("AUTH_ADMIN_EMAIL and AUTH_ADMIN_PASSWORD must be set together")
        return self

    def secrets_to_check(self) -> dict[str, SecretStr]:
        secrets = super().secrets_to_check()
        if self.admin_password is not None:
            secrets["admin_password"] = self.admin_password
        return secrets


@lru_cache
def get_settings() -> Settings:
    return Settings()

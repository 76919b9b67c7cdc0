"""auth-svc settings, read from `AUTH_*` environment variables."""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
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


def _private_slots_dir() -> str:
    """A folder of this user's: the session's runtime folder, else a per-uid name in /tmp.

    A fixed name in the shared /tmp could be created first by another local user, who
    would then hold (or replace) our lock files; `HostSlots` refuses any folder that is not
    ours alone, so a squatted per-uid name stops the service instead of being used.
    """
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return os.path.join(runtime_dir, "taskhub-auth-hashing")
    return os.path.join(tempfile.gettempdir(), f"taskhub-auth-hashing-{os.getuid()}")


def _loopback() -> list[IPv4Network | IPv6Network]:
    return [IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")]


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    service_name: str = "auth-svc"

    # Signing keys: every `*.pem` private RSA key in this folder is loaded; the newest signs.
    keys_dir: str = ".stack/keys"
    key_size: int = Field(default=2048, ge=2048, le=8192)

    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=7 * 86_400, ge=300, le=90 * 86_400)
    # A refresh token presented again this soon after it was spent buys another pair of its
    # family instead of revoking it: two tabs or retries refreshing at once (RFC 9700 §4.14.2).
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=60)

    # Failed-login throttling (Redis counters per fixed window). Hard limits per account
    # from one address and per address; across addresses an account is only slowed down,
    # so a stranger cannot lock its owner out.
    login_account_max_failures: int = Field(default=5, ge=1, le=1000)
    login_ip_max_failures: int = Field(default=20, ge=1, le=100_000)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=86_400)
    login_account_slowdown_after_failures: int = Field(default=10, ge=1, le=100_000)
    login_account_slowdown_max_seconds: float = Field(default=3.0, ge=0, le=10)

    # Registrations per client address and fixed window (each new account costs a hash).
    register_ip_max_attempts: int = Field(default=20, ge=1, le=100_000)
    register_window_seconds: int = Field(default=600, ge=1, le=86_400)

    # Concurrent argon2 computations on this host, across the service's worker processes;
    # more would only queue threads behind busy cores and starve the event loops.
    password_hash_concurrency: int = Field(default_factory=_hashing_slots, ge=1, le=64)
    # Where the workers of one host share those slots (lock files). It must be ours alone:
    # created 0700, refused when another user owns it or may write to it.
    password_hash_slots_dir: str = Field(default_factory=_private_slots_dir, min_length=1)

    # The header the gateway sets to the client address it saw (it overwrites client
    # values); empty means "use the peer address".
    client_ip_header: str = "X-Real-IP"
    # Peers whose `client_ip_header` is believed (the gateway); anyone else is known by
    # its own address, whatever header it sends.
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=_loopback)

    # API keys: the HMAC-SHA256 secret their stored hashes are made with (changing it
    # invalidates every key), live keys per user, and how often `last_used_at` is written.
    api_key_hash_secret: SecretStr = SecretStr("change-me")
    api_key_max_per_user: int = Field(default=20, ge=1, le=1000)
    api_key_last_used_interval_seconds: int = Field(default=60, ge=1, le=86_400)

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
        secrets["api_key_hash_secret"] = self.api_key_hash_secret
        if self.admin_password is not None:
            secrets["admin_password"] = self.admin_password
        return secrets


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""notify-svc settings, read from `NOTIFY_*` environment variables (documented in .env.example)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any, Self

from limits import parse
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from taskhub_common.settings import AuthCallerSettings

# Delivery attempts in total (the first one plus two retries).
MAX_DELIVERY_ATTEMPTS = 3


class Settings(AuthCallerSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="ignore", frozen=True)

    service_name: str = "notify-svc"
    redis_url: str = "redis://127.0.0.1:63790/2"

    auth_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # Longest time a changed e-mail address (or a deleted user) still receives task
    # notifications: auth-svc's answers about a recipient are kept this long per process.
    contact_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    celery_broker_url: str = "redis://127.0.0.1:63790/2"
    # Chosen with the sweep below so a job held by a dead worker goes out within 60 s of
    # its death (README, "Recovery after a crash"): redelivery of the dead worker's
    # messages after 45 s, or the sweep after 30 s + one 10 s period, whichever first.
    celery_visibility_timeout_seconds: int = Field(default=45, ge=10)
    arq_redis_url: str = "redis://127.0.0.1:63790/3"

    # `host:port` pairs a webhook may target although they are not public addresses.
    webhook_allowlist: Annotated[list[str], NoDecode] = []
    webhook_signing_secret: SecretStr = SecretStr("change-me")
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_response_bytes: int = Field(default=65536, ge=0, le=10 * 1024 * 1024)
    webhook_dns_timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    # Moving-window limit on POST /notify/email + /notify/webhook together, per user, in
    # the `limits` notation. Jobs made from task events are not submissions: not counted.
    submit_rate_limit: str = "60/minute"
    # Webhook deliveries of one job owner in flight at once, whatever the worker count:
    # a user's slow receivers can hold this many delivery slots and no more.
    webhook_slots_per_owner: int = Field(default=1, ge=1, le=100)

    retry_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    retry_backoff_max_seconds: float = Field(default=600.0, gt=0, le=3600)

    reminder_scan_seconds: float = Field(default=60.0, gt=0, le=86400)
    reminder_lead_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    stuck_job_seconds: int = Field(default=30, ge=5)
    stuck_sweep_seconds: float = Field(default=10.0, gt=0, le=86400)

    # Workers serve /metrics here. Loopback unless told otherwise: on a shared host any
    # interface would publish them; compose sets 0.0.0.0 so Prometheus reaches the containers.
    metrics_address: str = "127.0.0.1"
    # The stack names these TASKHUB_*_METRICS_PORT (docs/conventions.md); both spellings work.
    celery_metrics_port: int = Field(
        default=9101,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("NOTIFY_CELERY_METRICS_PORT", "TASKHUB_CELERY_METRICS_PORT"),
    )
    arq_metrics_port: int = Field(
        default=9102,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("NOTIFY_ARQ_METRICS_PORT", "TASKHUB_ARQ_METRICS_PORT"),
    )

    @field_validator("webhook_allowlist", mode="before")
    @classmethod
    def _split_allowlist(cls, value: Any) -> Any:
        """Accept `host:port,host:port` as well as a JSON list."""
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                return json.loads(stripped)
            return [item.strip() for item in stripped.split(",") if item.strip()]
        return value

    @field_validator("submit_rate_limit")
    @classmethod
    def _parseable_rate_limit(cls, value: str) -> str:
        parse(value)  # raises ValueError on nonsense, so a typo fails at start-up
        return value

    def secrets_to_check(self) -> dict[str, SecretStr]:
        return super().secrets_to_check() | {"webhook_signing_secret": self.webhook_signing_secret}

    @property
    def max_backoff_seconds(self) -> float:
        """The longest countdown a retry can get."""
        longest = self.retry_backoff_seconds * float(2 ** (MAX_DELIVERY_ATTEMPTS - 2))
        return min(longest, self.retry_backoff_max_seconds)

    @property
    def webhook_slot_lease_seconds(self) -> float:
        """How long a delivery slot is held at most: one whole attempt (DNS check, then the
        request's time limit) plus slack; a worker that dies holding one frees it then."""
        return self.webhook_dns_timeout_seconds + self.webhook_timeout_seconds + 5.0

    @property
    def attempt_lease_seconds(self) -> float:
        """An attempt started longer ago than this without an outcome was cut short (its
        worker died): the next message for the job may start another one. One attempt's
        own limits (DNS check, then the request's time limit) plus 2 s of slack."""
        return self.webhook_dns_timeout_seconds + self.webhook_timeout_seconds + 2.0

    @model_validator(mode="after")
    def _check_worker_timing(self) -> Self:
        if self.is_production and self.webhook_allowlist:
            raise ValueError("NOTIFY_WEBHOOK_ALLOWLIST must be empty in production")
        # A retry waiting in Redis must come back before the broker redelivers it, and
        # before the sweep takes the job for stuck.
        busy = self.max_backoff_seconds + self.webhook_timeout_seconds
        if self.celery_visibility_timeout_seconds <= 2 * busy:
            raise ValueError("celery_visibility_timeout_seconds must exceed twice the max backoff")
        if self.stuck_job_seconds <= busy:
            raise ValueError("stuck_job_seconds must exceed the max backoff plus the timeout")
        # The sweep must not take an attempt in flight for an abandoned one.
        if self.stuck_job_seconds <= self.attempt_lease_seconds:
            raise ValueError("stuck_job_seconds must exceed the attempt lease")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""task-svc settings, read from `TASKS_*` environment variables (documented in .env.example)."""

from __future__ import annotations

from functools import lru_cache

from limits import parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from taskhub_common.settings import AuthCallerSettings


class Settings(AuthCallerSettings):
    model_config = SettingsConfigDict(env_prefix="TASKS_", extra="ignore", frozen=True)

    service_name: str = "task-svc"
    redis_url: str = "redis://127.0.0.1:63790/1"
    # The autocommit pool of single-statement reads (the task list), beside the main pool.
    database_read_pool_size: int = Field(default=10, ge=1, le=100)
    # Rendered list pages kept per process, checked against the list version (0: off).
    list_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)

    # Other services this one calls (auth-svc's address: `AuthCallerSettings`).
    notify_url: str = "http://127.0.0.1:8103"
    http_timeout_seconds: float = Field(default=3.0, gt=0, le=60)

    # Assignee existence answers from auth-svc are cached in Redis.
    assignee_cache_seconds: int = Field(default=600, ge=1)
    assignee_negative_cache_seconds: int = Field(default=30, ge=1)

    # Moving-window limit on POST /tasks per user, in the `limits` notation.
    create_rate_limit: str = "60/minute"

    # Transactional outbox relay (task.done / task.deadline_changed -> notify-svc).
    outbox_relay_enabled: bool = True
    outbox_poll_interval_seconds: float = Field(default=0.2, gt=0, le=60)
    # Events claimed per round and sent in one request to notify-svc's batch endpoint.
    outbox_batch_size: int = Field(default=100, ge=1, le=1000)
    # How long the relay waits for notify-svc's answer to a batch. Long enough to ride
    # out a notify-svc restart (its port accepts connections before its workers answer)
    # instead of counting a failed attempt against every event of the batch.
    outbox_send_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # How long a claimed batch is left to its relay: a relay that dies with a claim
    # delays those events this long (another relay then sends them). Must exceed twice
    # the send timeout, so a live relay's claim never runs out while it sends.
    outbox_claim_seconds: float = Field(default=30.0, gt=0, le=600)
    outbox_backoff_base_seconds: float = Field(default=1.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # An event notify-svc keeps failing is parked after this many attempts.
    outbox_max_attempts: int = Field(default=8, ge=1)
    # While notify-svc is unreachable the relay polls at most this far apart: the backlog
    # goes out within this time of its return.
    outbox_outage_poll_max_seconds: float = Field(default=1.0, gt=0, le=60)

    @model_validator(mode="after")
    def _claim_outlives_a_send(self) -> Settings:
        longest_send = max(self.outbox_send_timeout_seconds, self.http_timeout_seconds)
        if self.outbox_claim_seconds <= 2 * longest_send:
            raise ValueError(
                "outbox_claim_seconds must exceed twice outbox_send_timeout_seconds "
                "(and twice http_timeout_seconds): a claim must outlive its sends"
            )
        return self

    @field_validator("create_rate_limit")
    @classmethod
    def _parseable_rate_limit(cls, value: str) -> str:
        parse(value)  # raises ValueError on nonsense, so a typo fails at start-up
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()

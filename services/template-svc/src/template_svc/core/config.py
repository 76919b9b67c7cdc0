"""template-svc settings, read from `TEMPLATE_*` environment variables (.env.example)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from taskhub_common.settings import AuthCallerSettings


class Settings(AuthCallerSettings):
    model_config = SettingsConfigDict(env_prefix="TEMPLATE_", extra="ignore", frozen=True)

    service_name: str = "template-svc"
    redis_url: str = "redis://127.0.0.1:63790/4"
    # Calls to other TaskHub services (auth-svc's JWKS and internal API) give up after this.
    http_timeout_seconds: float = Field(default=3.0, gt=0, le=60)


@lru_cache
def get_settings() -> Settings:
    return Settings()

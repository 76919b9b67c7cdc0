"""auth-svc settings, read from `AUTH_*` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from taskhub_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", frozen=True)

    service_name: str = "auth-svc"


@lru_cache
def get_settings() -> Settings:
    return Settings()

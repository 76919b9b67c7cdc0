"""The settings base every TaskHub service extends with its own env prefix."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that ship in .env.example; production refuses to start with any of them.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "dev-internal-token"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    """Settings shared by all services; subclasses set `env_prefix` (`AUTH_`, `TASKS_`, ...)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str = "taskhub"
    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "postgresql+asyncpg://taskhub:taskhub@127.0.0.1:54320/taskhub"
    database_pool_size: int = Field(default=10, ge=1, le=100)
    redis_url: str = "redis://127.0.0.1:63790/0"
    log_level: str = "INFO"
    cors_origins: list[str] = ["http://localhost"]
    internal_token: SecretStr = SecretStr("dev-internal-token")
    jwt_issuer: str = "taskhub-auth"
    jwt_audience: str = "taskhub"

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    def secrets_to_check(self) -> dict[str, SecretStr]:
        """Secrets that must not keep a placeholder value in production."""
        return {"internal_token": self.internal_token}

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        weak = [
            name
            for name, secret in self.secrets_to_check().items()
            if secret.get_secret_value() in PLACEHOLDER_SECRETS
        ]
        if weak:
            raise ValueError(f"placeholder secrets are not allowed in production: {weak}")
        if "*" in self.cors_origins:
            raise ValueError("a wildcard CORS origin is not allowed in production")
        return self


class AuthCallerSettings(ServiceSettings):
    """Settings of a service that trusts auth-svc's tokens and asks its internal API."""

    auth_url: str = "http://127.0.0.1:8101"
    jwks_url: str = "http://127.0.0.1:8101/auth/.well-known/jwks.json"
    # Longest time a key withdrawn from the JWKS still verifies (the set's maximum age).
    jwks_max_age_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Longest time a demoted or deleted admin's token keeps admin power here.
    admin_role_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Longest time a revoked or expired API key keeps working here (auth-svc's answers
    # about a key, "no such key" too, are kept this long per process).
    api_key_cache_seconds: float = Field(default=10.0, ge=0, le=300)

"""Settings: production refuses placeholder secrets and wildcard CORS."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from taskhub_common.settings import Environment, ServiceSettings


def test_development_accepts_the_shipped_placeholders() -> None:
    settings = ServiceSettings()
    assert settings.environment is Environment.DEVELOPMENT
    assert not settings.is_production


def test_production_refuses_a_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="internal_token"):
        ServiceSettings(environment=Environment.PRODUCTION)


def test_production_refuses_wildcard_cors() -> None:
    with pytest.raises(ValidationError, match="wildcard"):
        ServiceSettings(
            environment=Environment.PRODUCTION,
            internal_token=SecretStr("a-real-secret-value-0123456789"),
            cors_origins=["*"],
        )


def test_production_accepts_real_secrets() -> None:
    settings = ServiceSettings(
        environment=Environment.PRODUCTION,
        internal_token=SecretStr("a-real-secret-value-0123456789"),
    )
    assert settings.is_production

"""auth-svc settings: defaults, env overrides, and what production refuses."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from auth_svc.core.config import Settings
from taskhub_common.testing import check_env_example

STRONG = "a-real-secret-0123456789"


@pytest.fixture(autouse=True)
def no_auth_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets counts (the suite itself runs with AUTH_* set)."""
    for name in [name for name in os.environ if name.startswith("AUTH_")]:
        if not name.endswith(("_DATABASE_URL", "_REDIS_URL")):
            monkeypatch.delenv(name)


def test_defaults_match_the_contract() -> None:
    settings = Settings()
    assert settings.keys_dir == ".stack/keys"
    assert settings.access_token_ttl_seconds == 900
    assert settings.refresh_token_ttl_seconds == 7 * 86_400
    assert settings.login_account_max_failures == 5
    assert settings.login_ip_max_failures == 20
    assert settings.login_failure_window_seconds == 900
    assert settings.client_ip_header == "X-Real-IP"
    assert settings.admin_email is None
    assert settings.password_hash_concurrency >= 1
    assert settings.login_account_slowdown_after_failures == 10
    assert settings.login_account_slowdown_max_seconds == 3.0
    assert settings.register_ip_max_attempts == 20
    assert settings.register_window_seconds == 600
    assert settings.refresh_reuse_grace_seconds == 10
    assert settings.api_key_max_per_user == 20
    assert settings.api_key_last_used_interval_seconds == 60
    assert [str(network) for network in settings.trusted_proxies] == ["127.0.0.0/8", "::1/128"]


def test_the_hashing_slots_default_to_a_folder_of_this_user(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert Settings().password_hash_slots_dir == str(tmp_path / "taskhub-auth-hashing")

    monkeypatch.delenv("XDG_RUNTIME_DIR")
    default = Settings().password_hash_slots_dir
    assert default == os.path.join(tempfile.gettempdir(), f"taskhub-auth-hashing-{os.getuid()}")


def test_trusted_proxies_are_a_json_list_of_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", '["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]')
    networks = Settings().trusted_proxies
    assert [str(network) for network in networks] == ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1/32"]

    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", '["not-a-network"]')
    with pytest.raises(ValidationError):
        Settings()


def test_limits_and_lifetimes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_LOGIN_ACCOUNT_MAX_FAILURES", "3")
    monkeypatch.setenv("AUTH_LOGIN_IP_MAX_FAILURES", "50")
    monkeypatch.setenv("AUTH_LOGIN_FAILURE_WINDOW_SECONDS", "60")
    monkeypatch.setenv("AUTH_ACCESS_TOKEN_TTL_SECONDS", "300")
    settings = Settings()
    assert settings.login_account_max_failures == 3
    assert settings.login_ip_max_failures == 50
    assert settings.login_failure_window_seconds == 60
    assert settings.access_token_ttl_seconds == 300


def test_empty_admin_variables_mean_no_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ADMIN_EMAIL", "")
    monkeypatch.setenv("AUTH_ADMIN_PASSWORD", "")
    settings = Settings()
    assert settings.admin_email is None
    assert settings.admin_password is None


def test_the_admin_bootstrap_needs_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ADMIN_EMAIL", "root@example.com")
    with pytest.raises(ValidationError, match="must be set together"):
        Settings()


def test_the_admin_email_must_be_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ADMIN_EMAIL", "not-an-address")
    monkeypatch.setenv("AUTH_ADMIN_PASSWORD", STRONG)
    with pytest.raises(ValidationError):
        Settings()


def test_production_refuses_a_placeholder_admin_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_INTERNAL_TOKEN", STRONG)
    monkeypatch.setenv("AUTH_ADMIN_EMAIL", "root@example.com")
    monkeypatch.setenv("AUTH_ADMIN_PASSWORD", "change-me")
    with pytest.raises(ValidationError, match="admin_password"):
        Settings()


def test_production_refuses_a_placeholder_api_key_hash_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_INTERNAL_TOKEN", STRONG)
    with pytest.raises(ValidationError, match="api_key_hash_secret"):
        Settings()


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_INTERNAL_TOKEN", STRONG)
    monkeypatch.setenv("AUTH_API_KEY_HASH_SECRET", STRONG)
    monkeypatch.setenv("AUTH_ADMIN_EMAIL", "root@example.com")
    monkeypatch.setenv("AUTH_ADMIN_PASSWORD", STRONG)
    assert Settings().is_production


def test_env_example_documents_every_setting() -> None:
    check_env_example(Settings, Path(__file__).resolve().parents[2] / ".env.example")

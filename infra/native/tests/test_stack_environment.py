"""The stack's environment builder and its generated credentials."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from notify_svc.core.config import Settings as NotifySettings
from taskhub_stack import cli
from taskhub_stack.credentials import credential_keys, load_or_create_credentials
from taskhub_stack.environment import build_service_env
from taskhub_stack.layout import StackLayout
from taskhub_stack.ports import StackPorts

CREDENTIALS = {
    "AUTH_DB_PASSWORD": "a-pw",
    "TASKS_DB_PASSWORD": "t-pw",
    "NOTIFY_DB_PASSWORD": "n-pw",
    "INTERNAL_TOKEN": "tok",
    "ADMIN_PASSWORD": "admin-pw",
    "WEBHOOK_SIGNING_SECRET": "sign-me",
    "REDIS_PASSWORD": "r-pw",
    "API_KEY_HASH_SECRET": "hash-me",
}
LAYOUT = StackLayout(Path("/repo"))
# The ports of docs/conventions.md, as nothing overrides them.
DEFAULTS = StackPorts()


def test_service_env_follows_the_conventions() -> None:
    env = build_service_env(StackPorts(), CREDENTIALS, LAYOUT)

    assert env["AUTH_DATABASE_URL"] == (
        f"postgresql+asyncpg://taskhub_auth:a-pw@127.0.0.1:{DEFAULTS.pg}/taskhub_auth"
    )
    assert env["TASKS_DATABASE_URL"].endswith(
        f"taskhub_tasks:t-pw@127.0.0.1:{DEFAULTS.pg}/taskhub_tasks"
    )
    assert env["NOTIFY_DATABASE_URL"].endswith(f"@127.0.0.1:{DEFAULTS.pg}/taskhub_notify")
    assert env["AUTH_REDIS_URL"] == f"redis://:r-pw@127.0.0.1:{DEFAULTS.redis}/0"
    assert env["TASKS_REDIS_URL"] == f"redis://:r-pw@127.0.0.1:{DEFAULTS.redis}/1"
    assert env["NOTIFY_CELERY_BROKER_URL"] == f"redis://:r-pw@127.0.0.1:{DEFAULTS.redis}/2"
    assert env["NOTIFY_ARQ_REDIS_URL"] == f"redis://:r-pw@127.0.0.1:{DEFAULTS.redis}/3"
    assert {env[f"{p}_INTERNAL_TOKEN"] for p in ("AUTH", "TASKS", "NOTIFY")} == {"tok"}
    assert env["AUTH_KEYS_DIR"] == "/repo/.stack/keys"
    assert env["TASKS_AUTH_URL"] == f"http://127.0.0.1:{DEFAULTS.auth}"
    assert env["TASKS_NOTIFY_URL"] == f"http://127.0.0.1:{DEFAULTS.notify}"
    jwks = f"http://127.0.0.1:{DEFAULTS.auth}/auth/.well-known/jwks.json"
    assert env["TASKS_JWKS_URL"] == env["NOTIFY_JWKS_URL"] == jwks
    assert env["NOTIFY_REMINDER_SCAN_SECONDS"] == "2"
    assert env["AUTH_ENVIRONMENT"] == "development"
    assert (env["AUTH_ADMIN_EMAIL"], env["AUTH_ADMIN_PASSWORD"]) == (
        "admin@example.com",
        "admin-pw",
    )
    assert env["NOTIFY_WEBHOOK_SIGNING_SECRET"] == "sign-me"
    assert env["AUTH_API_KEY_HASH_SECRET"] == "hash-me"
    assert env["NOTIFY_AUTH_URL"] == f"http://127.0.0.1:{DEFAULTS.auth}"
    # The e2e suite's loopback receivers, one port per xdist worker.
    assert env["NOTIFY_WEBHOOK_ALLOWLIST"].split(",")[0] == f"127.0.0.1:{DEFAULTS.receivers}"
    assert len(env["NOTIFY_WEBHOOK_ALLOWLIST"].split(",")) == 10
    # PROMETHEUS_MULTIPROC_DIR is the Celery worker's alone.
    assert "PROMETHEUS_MULTIPROC_DIR" not in env


def test_test_env_points_at_the_test_databases_and_redis_10_to_13() -> None:
    env = build_service_env(StackPorts(), CREDENTIALS, LAYOUT, test=True)

    assert env["AUTH_DATABASE_URL"].endswith("/taskhub_auth_test")
    assert env["TASKS_DATABASE_URL"].endswith("/taskhub_tasks_test")
    assert env["NOTIFY_DATABASE_URL"].endswith("/taskhub_notify_test")
    redis_dbs = {
        key: int(value.rsplit("/", 1)[1]) for key, value in env.items() if key.endswith("REDIS_URL")
    }
    redis_dbs["NOTIFY_CELERY_BROKER_URL"] = int(env["NOTIFY_CELERY_BROKER_URL"].rsplit("/", 1)[1])
    assert set(redis_dbs.values()) <= set(range(10, 14))
    assert env["NOTIFY_ARQ_REDIS_URL"].endswith("/13")
    assert env["TASKS_ENVIRONMENT"] == "test"


def test_ports_come_from_the_environment() -> None:
    ports = StackPorts.from_env({"TASKHUB_PG_PORT": "6543", "TASKHUB_CELERY_METRICS_PORT": "9"})
    env = build_service_env(ports, CREDENTIALS, LAYOUT)

    assert ports.pg == 6543
    assert ports.gateway == StackPorts().gateway
    assert "@127.0.0.1:6543/" in env["AUTH_DATABASE_URL"]
    assert env["TASKHUB_CELERY_METRICS_PORT"] == "9"


def test_addresses_and_urls_follow_the_moved_ports() -> None:
    ports = StackPorts.from_env({"TASKHUB_GATEWAY_PORT": "18080"})

    assert ports.address("gateway") == "127.0.0.1:18080"
    assert ports.url("prometheus") == f"http://127.0.0.1:{StackPorts().prometheus}"
    with pytest.raises(KeyError, match="no native port named 'gatway'"):
        ports.url("gatway")


@pytest.mark.parametrize(
    ("url", "is_gateway"),
    [
        ("http://127.0.0.1:18080", True),
        ("http://localhost:18080/healthz", True),
        ("http://[::1]:18080", True),
        (f"http://127.0.0.1:{StackPorts().gateway}", False),
        ("http://gateway.example:18080", False),
        ("http://localhost", False),
    ],
)
def test_the_gateway_is_a_loopback_url_on_its_port(url: str, is_gateway: bool) -> None:
    assert StackPorts.from_env({"TASKHUB_GATEWAY_PORT": "18080"}).is_gateway(url) is is_gateway


def test_taskhub_stack_url_and_port_print_where_a_port_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKHUB_ALERTMANAGER_PORT", "19093")

    assert cli.main(["url", "alertmanager"]) == 0
    assert capsys.readouterr().out == "http://127.0.0.1:19093\n"
    assert cli.main(["port", "alertmanager"]) == 0
    assert capsys.readouterr().out == "19093\n"


def test_credentials_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / ".stack" / "credentials"
    first = load_or_create_credentials(path)
    second = load_or_create_credentials(path)

    assert first == second
    assert sorted(first) == sorted(credential_keys())
    assert len(set(first.values())) == len(first)
    assert all(len(value) >= 32 for value in first.values())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_credentials_are_added_without_touching_the_others(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("# kept\nAUTH_DB_PASSWORD=chosen-by-hand\n")
    values = load_or_create_credentials(path)

    assert values["AUTH_DB_PASSWORD"] == "chosen-by-hand"
    assert sorted(values) == sorted(credential_keys())


def test_exported_service_variables_override_the_stack_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TASKS_CREATE_RATE_LIMIT", "1000/minute")
    monkeypatch.setenv("AUTH_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("UNRELATED_SETTING", "ignored")
    env = build_service_env(StackPorts(), CREDENTIALS, LAYOUT)
    assert env["TASKS_CREATE_RATE_LIMIT"] == "1000/minute"
    assert env["AUTH_LOG_LEVEL"] == "DEBUG"
    assert "UNRELATED_SETTING" not in env


@pytest.mark.parametrize("test", [False, True], ids=["stack", "test-session"])
def test_every_redis_url_carries_the_redis_password(test: bool) -> None:
    env = build_service_env(StackPorts(), CREDENTIALS, LAYOUT, test=test)
    urls = {key: value for key, value in env.items() if value.startswith("redis://")}

    assert set(urls) == {
        "AUTH_REDIS_URL",
        "TASKS_REDIS_URL",
        "NOTIFY_REDIS_URL",
        "NOTIFY_CELERY_BROKER_URL",
        "NOTIFY_ARQ_REDIS_URL",
    }
    for key, url in urls.items():
        assert urlsplit(url).password == "r-pw", key


def test_password_hash_slots_are_kept_per_stack_in_a_private_folder() -> None:
    env = build_service_env(StackPorts(), CREDENTIALS, LAYOUT)

    assert env["AUTH_PASSWORD_HASH_SLOTS_DIR"] == "/repo/.stack/run/auth-hashing"
    assert LAYOUT.password_hash_slots_dir in LAYOUT.private_dirs


def test_worker_metrics_listen_on_loopback_natively(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in build_service_env(StackPorts(), CREDENTIALS, LAYOUT).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NOTIFY_METRICS_ADDRESS", raising=False)

    assert NotifySettings(_env_file=None).metrics_address == "127.0.0.1"

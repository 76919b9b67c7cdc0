"""Settings: allowlist parsing, production refusals, timing invariants, env names."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from notify_svc.core.config import Settings
from taskhub_common.testing import check_env_example


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from the defaults whatever the test session exported."""
    import os

    for name in list(os.environ):
        if name.startswith(("NOTIFY_", "TASKHUB_")):
            monkeypatch.delenv(name)


def _strong_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_INTERNAL_TOKEN", "s3cret-internal-token")
    monkeypatch.setenv("NOTIFY_WEBHOOK_SIGNING_SECRET", "s3cret-signing")


def test_allowlist_accepts_commas_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_WEBHOOK_ALLOWLIST", "127.0.0.1:8999, localhost:9000")
    assert Settings().webhook_allowlist == ["127.0.0.1:8999", "localhost:9000"]
    monkeypatch.setenv("NOTIFY_WEBHOOK_ALLOWLIST", '["127.0.0.1:1"]')
    assert Settings().webhook_allowlist == ["127.0.0.1:1"]
    monkeypatch.setenv("NOTIFY_WEBHOOK_ALLOWLIST", "")
    assert Settings().webhook_allowlist == []


def test_production_refuses_placeholder_signing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_ENVIRONMENT", "production")
    monkeypatch.setenv("NOTIFY_INTERNAL_TOKEN", "s3cret-internal-token")
    with pytest.raises(ValidationError, match="webhook_signing_secret"):
        Settings()
    _strong_secrets(monkeypatch)
    assert Settings().is_production


def test_production_refuses_an_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    _strong_secrets(monkeypatch)
    monkeypatch.setenv("NOTIFY_ENVIRONMENT", "production")
    monkeypatch.setenv("NOTIFY_WEBHOOK_ALLOWLIST", "127.0.0.1:80")
    with pytest.raises(ValidationError, match="ALLOWLIST"):
        Settings()


def test_backoff_must_fit_below_visibility_timeout_and_sweep() -> None:
    with pytest.raises(ValidationError, match="visibility"):
        Settings(retry_backoff_seconds=1000, retry_backoff_max_seconds=3000)
    with pytest.raises(ValidationError, match="stuck_job_seconds"):
        Settings(stuck_job_seconds=12)
    assert Settings(retry_backoff_seconds=0.05).max_backoff_seconds == pytest.approx(0.1)


def test_metrics_ports_read_the_stack_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKHUB_CELERY_METRICS_PORT", "19101")
    monkeypatch.setenv("TASKHUB_ARQ_METRICS_PORT", "19102")
    settings = Settings()
    assert (settings.celery_metrics_port, settings.arq_metrics_port) == (19101, 19102)
    monkeypatch.setenv("NOTIFY_CELERY_METRICS_PORT", "29101")
    assert Settings().celery_metrics_port == 29101


def test_submission_limit_must_be_parseable() -> None:
    assert Settings(submit_rate_limit="10/2 seconds").submit_rate_limit == "10/2 seconds"
    with pytest.raises(ValidationError, match="submit_rate_limit"):
        Settings(submit_rate_limit="lots")


def test_a_delivery_slot_outlasts_one_attempt() -> None:
    settings = Settings(
        webhook_timeout_seconds=20,
        webhook_dns_timeout_seconds=3,
        celery_visibility_timeout_seconds=120,
        stuck_job_seconds=60,
    )
    assert settings.webhook_slot_lease_seconds == 28
    with pytest.raises(ValidationError, match="webhook_slots_per_owner"):
        Settings(webhook_slots_per_owner=0)


def test_defaults_send_a_dead_workers_job_again_within_a_minute() -> None:
    settings = Settings()
    # The sweep takes the job once its attempt is older than the threshold, at its next run.
    by_sweep = settings.stuck_job_seconds + settings.stuck_sweep_seconds
    assert by_sweep <= 40
    assert settings.celery_visibility_timeout_seconds <= 45
    # And never while an attempt may still be live.
    assert settings.stuck_job_seconds > settings.attempt_lease_seconds
    assert settings.attempt_lease_seconds > (
        settings.webhook_dns_timeout_seconds + settings.webhook_timeout_seconds
    )


def test_the_sweep_may_not_take_a_live_attempt_for_a_lost_one() -> None:
    # Past the longest backoff plus time limit (31 s), inside the attempt lease (37 s).
    with pytest.raises(ValidationError, match="attempt lease"):
        Settings(
            stuck_job_seconds=35,
            retry_backoff_seconds=0.5,
            webhook_timeout_seconds=30,
            webhook_dns_timeout_seconds=5,
            celery_visibility_timeout_seconds=100,
        )


def test_env_example_documents_every_setting() -> None:
    check_env_example(Settings, Path(__file__).resolve().parents[2] / ".env.example")

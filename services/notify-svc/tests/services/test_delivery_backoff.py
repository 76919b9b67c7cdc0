"""Retry countdowns and recipient pseudonyms (no database)."""

from __future__ import annotations

import random

from notify_svc.core.config import Settings
from notify_svc.services.delivery import recipient_hash, retry_countdown


def test_countdown_grows_exponentially_with_jitter_and_cap() -> None:
    settings = Settings(retry_backoff_seconds=2, retry_backoff_max_seconds=5)
    rng = random.Random(7)
    for attempts, full in ((1, 2.0), (2, 4.0), (3, 5.0), (9, 5.0)):
        for _ in range(50):
            assert full / 2 <= retry_countdown(attempts, settings, rng) <= full
    values = {round(retry_countdown(1, settings, rng), 6) for _ in range(20)}
    assert len(values) > 1  # jittered


def test_sub_second_base_is_honoured() -> None:
    settings = Settings(retry_backoff_seconds=0.05)
    assert retry_countdown(1, settings) <= 0.05


def test_recipient_hash_ignores_case_and_spaces() -> None:
    assert recipient_hash(" Alice@Example.COM ") == recipient_hash("alice@example.com")
    assert "alice" not in recipient_hash("alice@example.com")

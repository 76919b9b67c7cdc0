"""The package's shape: no module imports itself back through others; settings are read
as docs/conventions.md says; the wiring modules have the shape of every service's."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import import_cycles, service_wiring_gaps, settings_rule_violations

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "auth_svc"


def test_no_import_cycle() -> None:
    assert import_cycles(PACKAGE) == []


def test_settings_are_read_by_the_one_rule() -> None:
    # core/security.py holds the process's key store and hashing slots.
    assert settings_rule_violations(PACKAGE, also_wiring=("core/security.py",)) == []


def test_the_wiring_has_the_shape_of_every_service() -> None:
    assert service_wiring_gaps(PACKAGE) == []

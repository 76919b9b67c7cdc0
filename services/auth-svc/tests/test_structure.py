"""The package's shape: no module imports itself back through others; its errors live in
`services/errors.py`; its tests follow the layout every service shares; settings are
read as docs/conventions.md says; the wiring modules have the shape of every service's."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import (
    check_errors_module,
    check_test_layout,
    import_cycles,
    service_wiring_gaps,
    settings_rule_violations,
)

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "auth_svc"


def test_no_import_cycle() -> None:
    assert import_cycles(PACKAGE) == []


def test_every_error_class_is_in_the_errors_module() -> None:
    check_errors_module(PACKAGE)


def test_the_tests_follow_the_shared_layout() -> None:
    check_test_layout(Path(__file__).resolve().parent, PACKAGE)


def test_settings_are_read_by_the_one_rule() -> None:
    # core/security.py holds the process's key store and hashing slots.
    assert settings_rule_violations(PACKAGE, also_wiring=("core/security.py",)) == []


def test_the_wiring_has_the_shape_of_every_service() -> None:
    assert service_wiring_gaps(PACKAGE) == []

"""The package's shape: no module imports itself back through others, its errors live in
`services/errors.py`, and its tests follow the layout every service shares."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import check_errors_module, check_test_layout, import_cycles

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "auth_svc"


def test_no_import_cycle() -> None:
    assert import_cycles(PACKAGE) == []


def test_every_error_class_is_in_the_errors_module() -> None:
    check_errors_module(PACKAGE)


def test_the_tests_follow_the_shared_layout() -> None:
    check_test_layout(Path(__file__).resolve().parent, PACKAGE)

"""The package's shape: no module imports itself back through others."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import import_cycles

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "task_svc"


def test_no_import_cycle() -> None:
    assert import_cycles(PACKAGE) == []

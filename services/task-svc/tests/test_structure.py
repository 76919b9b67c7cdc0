"""task-svc has the shape every service shares (docs/conventions.md, "Where things live")."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import service_shape_problems

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "task_svc"


def test_the_package_keeps_every_shared_rule() -> None:
    assert service_shape_problems(PACKAGE, Path(__file__).resolve().parent) == {}

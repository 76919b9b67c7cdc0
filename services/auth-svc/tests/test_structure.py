"""auth-svc has the shape every service shares (docs/conventions.md, "Where things live")."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import service_shape_problems

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "auth_svc"
# Besides the wiring every service has: the process's key store and hashing slots.
OWN_WIRING = ("core/security.py",)


def test_the_package_keeps_every_shared_rule() -> None:
    tests = Path(__file__).resolve().parent
    assert service_shape_problems(PACKAGE, tests, also_wiring=OWN_WIRING) == {}

"""The wiring check names what a service's main.py, api/deps.py and db/session.py lack."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import service_wiring_gaps

TEMPLATE_PACKAGE = Path(__file__).resolve().parents[2] / "template-svc" / "src" / "template_svc"


def _copy_wiring(target: Path) -> Path:
    for relative in ("db/session.py", "api/deps.py", "main.py"):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text((TEMPLATE_PACKAGE / relative).read_text())
    return target


def test_the_template_has_the_whole_shape(tmp_path: Path) -> None:
    assert service_wiring_gaps(_copy_wiring(tmp_path)) == []


def test_every_missing_name_and_a_lifespan_of_its_own_are_named(tmp_path: Path) -> None:
    package = _copy_wiring(tmp_path)
    session = package / "db" / "session.py"
    session.write_text(session.read_text().replace("redis = kit.redis\n", ""))
    main = package / "main.py"
    main.write_text(
        main.read_text().replace("lifespan = kit.lifespan()", "lifespan = my_own_lifespan")
    )
    deps = package / "api" / "deps.py"
    deps.write_text(deps.read_text().replace("AdminUser = ", "Admin = "))

    assert service_wiring_gaps(package) == [
        "db/session.py: redis",
        "api/deps.py: AdminUser",
        "main.py: kit.lifespan(",
    ]

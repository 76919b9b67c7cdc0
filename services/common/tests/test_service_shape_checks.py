"""The shared checks of a service's shape: its tests' folders and its one errors module."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskhub_common.testing import check_errors_module, check_test_layout, error_classes


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _service(tmp_path: Path, tests: dict[str, str]) -> tuple[Path, Path]:
    """A package `demo` with two repository modules, and its tests made of `tests`."""
    package, tests_dir = tmp_path / "src" / "demo", tmp_path / "tests"
    _tree(package, {"__init__.py": "", "repositories/__init__.py": "", "repositories/jobs.py": ""})
    _tree(package, {"repositories/events.py": ""})
    tests_dir.mkdir()
    _tree(tests_dir, tests)
    return tests_dir, package


COMPLETE = {
    "conftest.py": "",
    "test_structure.py": "",
    "api/test_jobs.py": "",
    "services/test_jobs.py": "",
    "repositories/test_events.py": "",
    "repositories/test_jobs.py": "",
    "db/test_migrations.py": "",
}


def test_a_complete_layout_passes(tmp_path: Path) -> None:
    check_test_layout(*_service(tmp_path, COMPLETE))


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    tests = {name: text for name, text in COMPLETE.items() if not name.startswith("services/")}
    with pytest.raises(AssertionError, match=r"^no tests/services/$"):
        check_test_layout(*_service(tmp_path, tests))


def test_a_repository_module_without_its_test_module_is_named(tmp_path: Path) -> None:
    tests = {name: text for name, text in COMPLETE.items() if name != "repositories/test_jobs.py"}
    with pytest.raises(AssertionError, match=r"no tests/repositories/test_jobs.py for "):
        check_test_layout(*_service(tmp_path, tests))


def test_a_loose_top_level_test_module_is_named(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"tests/test_main.py is loose"):
        check_test_layout(*_service(tmp_path, {**COMPLETE, "test_main.py": ""}))


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "demo"
    _tree(package, {"__init__.py": "", "services/__init__.py": "", **files})
    return package


ERRORS = """
from taskhub_common.errors import Conflict, NotFound

class Gone(NotFound):
    message = "gone"

class Taken(Conflict):
    message = "taken"
"""


def test_errors_in_the_errors_module_pass(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "services/errors.py": ERRORS,
            # Not errors of the envelope: plain exceptions may live anywhere.
            "core/keys.py": "class KeyLoadError(RuntimeError):\n    pass\n",
        },
    )
    check_errors_module(package)
    assert error_classes(package) == {"demo.services.errors": ["Gone", "Taken"]}


def test_errors_defined_elsewhere_are_named_however_they_derive(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "services/errors.py": ERRORS,
            "services/tasks.py": (
                "from taskhub_common.errors import Forbidden\n"
                "class NotYours(Forbidden):\n    pass\n"
            ),
            "services/jobs.py": (
                "from demo.services.errors import Gone\n"
                "class Vanished(Gone):\n    pass\n"
                "class Faded(Vanished):\n    pass\n"
            ),
            "api/deps.py": (
                "from taskhub_common import errors\nclass Refused(errors.Unauthorized):\n    pass\n"
            ),
        },
    )
    outside = r"error classes outside demo\.services\.errors"
    with pytest.raises(AssertionError, match=outside) as raised:
        check_errors_module(package)
    assert error_classes(package) == {
        "demo.api.deps": ["Refused"],
        "demo.services.errors": ["Gone", "Taken"],
        "demo.services.jobs": ["Vanished", "Faded"],
        "demo.services.tasks": ["NotYours"],
    }
    assert "NotYours" in str(raised.value)

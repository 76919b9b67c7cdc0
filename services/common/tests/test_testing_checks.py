"""The shared checks every service runs on its own configuration files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

from taskhub_common.testing import check_env_example, import_cycles, package_imports


class DemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")

    database_url: str = ""
    pool_size: int = 10


def _example(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env.example"
    path.write_text(text)
    return path


def test_an_example_with_every_setting_passes_commented_out_or_not(tmp_path: Path) -> None:
    check_env_example(
        DemoSettings, _example(tmp_path, "DEMO_DATABASE_URL=x\n# DEMO_POOL_SIZE=10\n")
    )


def test_a_missing_setting_is_named(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="undocumented \\['DEMO_POOL_SIZE'\\]"):
        check_env_example(DemoSettings, _example(tmp_path, "DEMO_DATABASE_URL=x\n"))


def test_a_documented_variable_that_is_no_setting_is_named(tmp_path: Path) -> None:
    text = "DEMO_DATABASE_URL=x\nDEMO_POOL_SIZE=1\nDEMO_RETIRED=1\nOTHER_THING=1\n"
    with pytest.raises(AssertionError, match="no such setting \\['DEMO_RETIRED'\\]"):
        check_env_example(DemoSettings, _example(tmp_path, text))


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    package = tmp_path / "demo"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "a.py": "from demo.b import thing\n",
            "b.py": "def thing():\n    from demo import c\n",
            "c.py": "import demo.a\n",
            "d.py": "from demo.a import thing\n",
        },
    )
    assert import_cycles(package) == [["demo.a", "demo.b", "demo.c"]]


def test_a_package_without_cycles_has_none(tmp_path: Path) -> None:
    package = _package(tmp_path, {"a.py": "from demo.b import thing\n", "b.py": "thing = 1\n"})
    assert import_cycles(package) == []
    assert package_imports(package)["demo.a"] == {"demo.b"}

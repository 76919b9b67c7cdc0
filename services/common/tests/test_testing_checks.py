"""The shared checks every service runs on its own configuration files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

from taskhub_common.testing import check_env_example


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

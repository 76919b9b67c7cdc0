"""The settings rule's check finds every way a package can break it, and nothing else."""

from __future__ import annotations

from pathlib import Path

from taskhub_common.testing import settings_rule_violations

GOOD = {
    "core/config.py": (
        "from functools import lru_cache\n"
        "class Settings: ...\n"
        "@lru_cache\n"
        "def get_settings() -> Settings:\n"
        "    return Settings()\n"
    ),
    "db/session.py": "settings = get_settings()\n",
    "main.py": "app = create_app(get_settings())\n",
    "services/work.py": "def limit() -> int:\n    return get_settings().limit\n",
}
BAD = {
    "services/eager.py": "settings = get_settings()\n",
    "services/copied.py": "def fresh() -> object:\n    return Settings()\n",
    "services/in_class.py": "class Holder:\n    limit = get_settings().limit\n",
    "services/default.py": "def work(limit: int = get_settings().limit) -> int: ...\n",
    "services/decorated.py": "@cache(get_settings().ttl)\ndef work() -> None: ...\n",
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_package_keeping_the_rule_passes(tmp_path: Path) -> None:
    assert settings_rule_violations(_tree(tmp_path, GOOD)) == []


def test_every_break_of_the_rule_is_named_with_its_line(tmp_path: Path) -> None:
    found = settings_rule_violations(_tree(tmp_path, GOOD | BAD))
    assert found == [
        "services/copied.py:2: Settings() outside get_settings",
        "services/decorated.py:1: get_settings() at import",
        "services/default.py:1: get_settings() at import",
        "services/eager.py:1: get_settings() at import",
        "services/in_class.py:2: get_settings() at import",
    ]


def test_a_module_declared_as_wiring_may_read_at_import(tmp_path: Path) -> None:
    package = _tree(tmp_path, GOOD | {"worker/app.py": "settings = get_settings()\n"})
    assert settings_rule_violations(package) == ["worker/app.py:1: get_settings() at import"]
    assert settings_rule_violations(package, also_wiring=("worker/app.py",)) == []

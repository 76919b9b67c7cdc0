"""Deciding which databases need `migrate` from the revision files, without importing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskhub_stack.migrations import (
    SERVICE_MIGRATIONS,
    needs_migration,
    script_heads,
    versions_dir,
)

ROOT = Path(__file__).resolve().parents[3]
INI = """[alembic]
script_location = %(here)s/src/svc/migrations
file_template = %%(year)d_%%(rev)s_%%(slug)s
"""


def revision_file(folder: Path, revision: str, down: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{revision}_x.py").write_text(
        f'"""x\n\nRevision ID: {revision}\n"""\n'
        f'revision: str = "{revision}"\n'
        f"down_revision: str | tuple[str, ...] | None = {down}\n"
    )


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    path = tmp_path / "alembic.ini"
    path.write_text(INI)
    return path


def test_versions_dir_resolves_here(ini: Path) -> None:
    assert versions_dir(ini) == ini.parent / "src" / "svc" / "migrations" / "versions"


def test_heads_of_a_linear_history(ini: Path) -> None:
    versions = ini.parent / "src" / "svc" / "migrations" / "versions"
    revision_file(versions, "aaa", "None")
    revision_file(versions, "bbb", '"aaa"')

    assert script_heads(ini) == frozenset({"bbb"})
    assert not needs_migration(ini, frozenset({"bbb"}))
    assert needs_migration(ini, frozenset({"aaa"}))
    assert needs_migration(ini, frozenset())
    assert needs_migration(ini, None)


def test_heads_after_a_merge_and_with_branches(ini: Path) -> None:
    versions = ini.parent / "src" / "svc" / "migrations" / "versions"
    revision_file(versions, "base", "None")
    revision_file(versions, "left", '"base"')
    revision_file(versions, "right", '"base"')

    assert script_heads(ini) == frozenset({"left", "right"})
    revision_file(versions, "merge", '("left", "right")')
    assert script_heads(ini) == frozenset({"merge"})


def test_no_revisions_yet_means_nothing_to_apply(ini: Path) -> None:
    (ini.parent / "src" / "svc" / "migrations" / "versions").mkdir(parents=True)

    assert script_heads(ini) == frozenset()
    assert not needs_migration(ini, frozenset())


def test_an_unreadable_revision_file_means_migrate(ini: Path) -> None:
    versions = ini.parent / "src" / "svc" / "migrations" / "versions"
    revision_file(versions, "aaa", "None")
    (versions / "odd.py").write_text("REVISION = compute()\n")

    assert script_heads(ini) is None
    assert needs_migration(ini, frozenset({"aaa"}))


def test_a_missing_ini_means_migrate(tmp_path: Path) -> None:
    assert needs_migration(tmp_path / "alembic.ini", frozenset())


def test_the_services_revision_files_are_readable() -> None:
    for service in SERVICE_MIGRATIONS:
        assert script_heads(ROOT / service.alembic_ini) is not None, service.command

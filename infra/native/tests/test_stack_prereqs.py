"""The one message that names the Debian packages of every missing system program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskhub_stack.prereqs import MissingSystemPrograms, find_system_programs

ROOT = Path(__file__).resolve().parents[3]


def test_all_missing_programs_are_named_in_one_message(tmp_path: Path) -> None:
    with pytest.raises(MissingSystemPrograms) as caught:
        find_system_programs(which=lambda _name: None, bindir=lambda: tmp_path)

    message = str(caught.value)
    for program in ("initdb", "pg_ctl", "redis-server", "nginx", "prometheus", "promtool"):
        assert program in message
    assert (
        "apt-get install nginx postgresql postgresql-client prometheus prometheus-alertmanager"
        " prometheus-nginx-exporter prometheus-postgres-exporter prometheus-redis-exporter"
        " redis-server util-linux" in message
    )


def test_only_the_missing_packages_are_asked_for(tmp_path: Path) -> None:
    for name in ("initdb", "pg_ctl", "postgres", "psql", "pg_isready"):
        (tmp_path / name).touch()
    present = {"nginx", "runuser", "redis-server", "prometheus-nginx-exporter", "amtool"}

    with pytest.raises(MissingSystemPrograms) as caught:
        find_system_programs(
            which=lambda name: f"/usr/bin/{name}" if name in present else None,
            bindir=lambda: tmp_path,
        )

    assert caught.value.missing == {
        "prometheus": "prometheus",
        "promtool": "prometheus",
        "prometheus-postgres-exporter": "prometheus-postgres-exporter",
        "prometheus-redis-exporter": "prometheus-redis-exporter",
        "prometheus-alertmanager": "prometheus-alertmanager",
    }
    assert (
        "apt-get install prometheus prometheus-alertmanager prometheus-postgres-exporter"
        " prometheus-redis-exporter\n" in str(caught.value) + "\n"
    )


def test_up_fails_with_the_message_before_touching_anything(tmp_path: Path) -> None:
    # An empty PATH hides redis-server, nginx, prometheus, promtool and runuser.
    env = {**os.environ, "PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "taskhub_stack", "up"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert "apt-get install" in result.stderr
    assert "redis-server" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_installed_programs_are_found() -> None:
    programs = find_system_programs()

    assert (programs.pg_bindir / "initdb").is_file()
    assert programs["nginx"].is_file()

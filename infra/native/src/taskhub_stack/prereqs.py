"""Finds the system programs the native stack runs, or names the Debian packages that bring them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Program -> the Debian package that installs it.
# PostgreSQL's programs are looked up in its versioned bindir, the rest on PATH.
PG_PROGRAMS = {
    "initdb": "postgresql",
    "pg_ctl": "postgresql",
    "postgres": "postgresql",
    "psql": "postgresql-client",
    "pg_isready": "postgresql-client",
}
PATH_PROGRAMS = {
    "redis-server": "redis-server",
    "nginx": "nginx",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "runuser": "util-linux",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
    "prometheus-redis-exporter": "prometheus-redis-exporter",
    "prometheus-nginx-exporter": "prometheus-nginx-exporter",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}


class MissingSystemPrograms(RuntimeError):
    """Some system programs are not installed; the message says which packages bring them."""

    def __init__(self, missing: dict[str, str]) -> None:
        self.missing = missing
        packages = " ".join(sorted(set(missing.values())))
        super().__init__(
            f"the native stack needs programs that are not installed: {', '.join(missing)}.\n"
            f"Install them with: apt-get install {packages}"
        )


@dataclass(frozen=True)
class SystemPrograms:
    """Absolute paths of the system programs the stack runs."""

    paths: dict[str, Path]

    @property
    def pg_bindir(self) -> Path:
        return self.paths["postgres"].parent

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]


def pg_bindir() -> Path | None:
    """PostgreSQL's programs: `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return Path(found.stdout.strip())
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name)
    )
    return versions[-1] if versions else None


def find_system_programs(
    *,
    which: Callable[[str], str | None] = shutil.which,
    bindir: Callable[[], Path | None] = pg_bindir,
) -> SystemPrograms:
    """Every program the stack needs; raises one `MissingSystemPrograms` naming all missing ones."""
    found: dict[str, Path] = {}
    missing: dict[str, str] = {}
    pg_dir = bindir()
    for name, package in PG_PROGRAMS.items():
        candidate = pg_dir / name if pg_dir else None
        if candidate and candidate.is_file():
            found[name] = candidate
        else:
            missing[name] = package
    for name, package in PATH_PROGRAMS.items():
        path = which(name)
        if path:
            found[name] = Path(path)
        else:
            missing[name] = package
    if missing:
        raise MissingSystemPrograms(missing)
    return SystemPrograms(found)

"""Which service databases need `<service-cli> migrate`, decided without importing the services.

Starting a service CLI costs seconds of CPU (SQLAlchemy, Alembic and the app), so `up` runs
it only for a database whose `alembic_version` differs from the heads of the service's
revision files. Whenever the revision files cannot be read with certainty, it migrates.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

_REVISION = re.compile(r"""^revision\b[^=\n]*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


@dataclass(frozen=True)
class ServiceMigrations:
    # The env prefix of the service's settings (its DATABASE_URL is what `migrate` uses).
    prefix: str
    # Console script from the service's cli.py.
    command: str
    # The service's alembic.ini, relative to the repository root.
    alembic_ini: Path


SERVICE_MIGRATIONS = (
    ServiceMigrations("AUTH", "taskhub-auth", Path("services/auth-svc/alembic.ini")),
    ServiceMigrations("TASKS", "taskhub-tasks", Path("services/task-svc/alembic.ini")),
    ServiceMigrations("NOTIFY", "taskhub-notify", Path("services/notify-svc/alembic.ini")),
)


def versions_dir(alembic_ini: Path) -> Path | None:
    """The folder of revision files named by `alembic.ini`, or None when it is not plain."""
    if not alembic_ini.is_file():
        return None
    here = alembic_ini.resolve().parent
    parser = configparser.ConfigParser(defaults={"here": str(here)})
    parser.read(alembic_ini)
    if not parser.has_option("alembic", "script_location") or parser.has_option(
        "alembic", "version_locations"
    ):
        return None
    location = parser.get("alembic", "script_location")
    if ":" in location:  # a `package:folder` resource
        return None
    folder = Path(location)
    return (folder if folder.is_absolute() else here / folder) / "versions"


def script_heads(alembic_ini: Path) -> frozenset[str] | None:
    """The head revisions of a service's migrations, or None when unsure."""
    folder = versions_dir(alembic_ini)
    if folder is None or not folder.is_dir():
        return None
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        text = path.read_text()
        revision, down_revision = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down_revision is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down_revision.group(1)))
    return frozenset(revisions - parents)


def needs_migration(alembic_ini: Path, applied: frozenset[str] | None) -> bool:
    """`applied`: the database's `alembic_version` rows (None: could not be read)."""
    heads = script_heads(alembic_ini)
    return heads is None or applied is None or heads != applied

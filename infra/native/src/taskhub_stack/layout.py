"""Where the native stack keeps its state: `.stack/` in the checkout, PostgreSQL maybe elsewhere.

PostgreSQL refuses to run as root, so a root-started stack runs it as the `postgres` system
user, who must be able to traverse every parent folder of its data and socket directories.
`.stack/` itself is owner-only (it holds the stack's secrets), so such a stack gets its
cluster in a per-checkout folder under `/var/lib/taskhub/` instead; nginx's temp folder
likewise, for its workers' user. Started by an ordinary user, everything runs as that user
and stays in `.stack/`.
"""

from __future__ import annotations

import getpass
import grp
import hashlib
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# The system accounts PostgreSQL and the nginx workers run as when the stack is started by root.
PG_SYSTEM_USER = "postgres"
# nginx's `user` directive: user and group (gateway/README.md).
NGINX_SYSTEM_USER = ("nobody", "nogroup")
FALLBACK_BASE = Path("/var/lib/taskhub")
# A template only this repository has, to recognise its root from a folder inside it.
ROOT_MARKER = Path("infra/native/supervisord.conf.template")


def find_repo_root(start: Path | None = None) -> Path:
    """The checkout holding `start` (default: cwd), else the one holding this package."""
    for folder in [(start or Path.cwd()).resolve(), *(start or Path.cwd()).resolve().parents]:
        if (folder / ROOT_MARKER).is_file():
            return folder
    for folder in Path(__file__).resolve().parents:
        if (folder / ROOT_MARKER).is_file():
            return folder
    raise FileNotFoundError(
        f"no TaskHub checkout (with {ROOT_MARKER}) around {start or Path.cwd()}"
    )


def pg_run_as() -> str:
    """The OS user PostgreSQL runs as: `postgres` under root, else the current user."""
    return PG_SYSTEM_USER if os.geteuid() == 0 else getpass.getuser()


def nginx_worker_user() -> tuple[str, str]:
    """User and group nginx drops its workers to when started by root (else nginx ignores it)."""
    if os.geteuid() == 0:
        return NGINX_SYSTEM_USER
    return getpass.getuser(), grp.getgrgid(os.getegid()).gr_name


def user_can_traverse(user: str, folder: Path) -> bool:
    """Whether `user` can enter `folder`, i.e. traverse it and every parent."""
    if user == getpass.getuser():
        return os.access(folder, os.X_OK)
    probe = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(folder)], check=False, capture_output=True
    )
    return probe.returncode == 0


@dataclass(frozen=True)
class PgLocation:
    data_dir: Path
    socket_dir: Path
    # Why this location was chosen, when it is not the default under `.stack/`.
    note: str | None = None


def choose_pg_location(
    stack_dir: Path,
    run_as: str,
    *,
    environ: Mapping[str, str] | None = None,
    can_traverse: Callable[[str, Path], bool] = user_can_traverse,
    fallback_base: Path = FALLBACK_BASE,
) -> PgLocation:
    """Data and socket dirs: env overrides, else under `.stack/` if `run_as` can reach it,
    else a per-checkout fallback.

    `stack_dir` must exist so that reachability can be probed.
    """
    environ = os.environ if environ is None else environ
    default = PgLocation(stack_dir / "pg", stack_dir / "run" / "pg")
    fallback_root = fallback_state_dir(stack_dir, fallback_base)
    fallback = PgLocation(
        fallback_root / "pg",
        fallback_root / "socket",
        note=(
            f"user {run_as!r} cannot traverse {stack_dir}, "
            f"so PostgreSQL keeps its data in {fallback_root}"
        ),
    )
    # A cluster created at the fallback stays there even if `.stack/` becomes reachable later.
    if _holds_cluster(fallback) and not _holds_cluster(default):
        chosen = fallback
    else:
        chosen = default if can_traverse(run_as, stack_dir) else fallback
    data_dir = environ.get("TASKHUB_PG_DATA_DIR")
    socket_dir = environ.get("TASKHUB_PG_SOCKET_DIR")
    if data_dir or socket_dir:
        return PgLocation(
            Path(data_dir) if data_dir else chosen.data_dir,
            Path(socket_dir) if socket_dir else chosen.socket_dir,
            note="PostgreSQL location set by TASKHUB_PG_DATA_DIR / TASKHUB_PG_SOCKET_DIR",
        )
    return chosen


def orphaned_cluster(location: PgLocation, stack_dir: Path) -> bool:
    """Whether `location` holds a cluster outside `.stack/` that an earlier stack of this
    checkout path left behind. Asked when `.stack/` is new (deleted by `clean`, or a new
    clone in the same folder): the passwords of that cluster went with the old `.stack/`."""
    return not location.data_dir.is_relative_to(stack_dir) and _holds_cluster(location)


def _holds_cluster(location: PgLocation) -> bool:
    return (location.data_dir / "PG_VERSION").exists()


def fallback_state_dir(stack_dir: Path, fallback_base: Path = FALLBACK_BASE) -> Path:
    """The per-checkout folder outside the checkout, for users that cannot reach `.stack/`."""
    return fallback_base / checkout_hash(stack_dir.parent)


def nginx_temp_dir(
    stack_dir: Path,
    worker_user: str,
    *,
    can_traverse: Callable[[str, Path], bool] = user_can_traverse,
    fallback_base: Path = FALLBACK_BASE,
) -> Path:
    """Where nginx workers buffer request bodies: they run as `worker_user` and must reach it."""
    if can_traverse(worker_user, stack_dir):
        return stack_dir / "run" / "nginx"
    return fallback_state_dir(stack_dir, fallback_base) / "nginx"


def checkout_hash(root: Path) -> str:
    """A short stable id of a checkout, so two checkouts never share a fallback folder."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class StackLayout:
    """The paths of one checkout's native stack."""

    root: Path

    @property
    def stack_dir(self) -> Path:
        return self.root / ".stack"

    @property
    def run_dir(self) -> Path:
        return self.stack_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def keys_dir(self) -> Path:
        return self.stack_dir / "keys"

    @property
    def redis_dir(self) -> Path:
        return self.stack_dir / "redis"

    @property
    def prometheus_dir(self) -> Path:
        return self.stack_dir / "prometheus"

    @property
    def alertmanager_dir(self) -> Path:
        return self.stack_dir / "alertmanager"

    @property
    def env_file(self) -> Path:
        return self.stack_dir / "env"

    @property
    def credentials_file(self) -> Path:
        return self.stack_dir / "credentials"

    @property
    def supervisor_conf(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run_dir / "supervisord.pid"

    @property
    def pycache_dir(self) -> Path:
        return self.stack_dir / "pycache"

    @property
    def password_hash_slots_dir(self) -> Path:
        """auth-svc's lock files that bound concurrent argon2 hashing, for this stack alone."""
        return self.run_dir / "auth-hashing"

    @property
    def private_dirs(self) -> tuple[Path, ...]:
        """The folders the stack creates owner-only (0700); secrets live in some of them."""
        return (
            self.stack_dir,
            self.run_dir,
            self.log_dir,
            self.keys_dir,
            self.redis_dir,
            self.prometheus_dir,
            self.alertmanager_dir,
            self.pycache_dir,
            self.password_hash_slots_dir,
        )

    @property
    def celery_multiproc_dir(self) -> Path:
        return self.run_dir / "prom-celery"

    def celery_instance_multiproc_dir(self, number: int) -> Path:
        """The metrics folder of Celery worker instance `number` (and of its webhook worker)."""
        suffix = "" if number == 1 else f"-{number}"
        return self.run_dir / f"prom-celery{suffix}"

    def service_metrics_dir(self, service: str) -> Path:
        """Where the gunicorn workers of `service` pool their metric samples."""
        return self.run_dir / f"prom-{service}"

    def log_path(self, program: str) -> Path:
        return self.log_dir / f"{program}.log"

    def template(self, relative: str) -> Path:
        return self.root / relative

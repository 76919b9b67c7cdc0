"""The native stack's hardening: owner-only secrets, Redis with a password, loopback-only
worker metrics, PostgreSQL logs without data values; rendered in a scratch checkout, then
checked on the running stack of this checkout."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from taskhub_stack.credentials import load_or_create_credentials
from taskhub_stack.layout import PgLocation, StackLayout
from taskhub_stack.native import NativeStack
from taskhub_stack.prereqs import PATH_PROGRAMS, SystemPrograms
from taskhub_stack.probes import port_is_open, redis_answers, redis_command

ROOT = Path(__file__).resolve().parents[3]
# The templates `taskhub-stack up` renders, copied into a throwaway checkout.
TEMPLATES = (
    "infra/native/supervisord.conf.template",
    "infra/native/redis.conf.template",
    "gateway/nginx.conf.template",
    "gateway/public/openapi.json",
    "gateway/public/docs.html",
    "infra/prometheus/prometheus.yml.template",
    "infra/alertmanager/alertmanager.yml.template",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def files_holding(folder: Path, secrets: list[str]) -> Iterator[Path]:
    """Every regular file under `folder` whose bytes contain one of `secrets`."""
    for parent, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if any(secret.encode() in data for secret in secrets):
                    yield path


def assert_private(path: Path, stack_dir: Path) -> None:
    """`path` is 0600 and every folder from its own up to `.stack/` is 0700."""
    assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
    for folder in [path.parent, *path.parent.parents]:
        assert mode(folder) == 0o700, f"{folder} (holding {path.name}) is {oct(mode(folder))}"
        if folder == stack_dir:
            break


def assert_no_secret_is_exposed(layout: StackLayout, skip: tuple[Path, ...] = ()) -> list[Path]:
    secrets = list(load_or_create_credentials(layout.credentials_file).values())
    found = [
        path
        for path in files_holding(layout.stack_dir, secrets)
        if not any(path.is_relative_to(folder) for folder in skip)
    ]
    for path in found:
        assert_private(path, layout.stack_dir)
    return found


@pytest.fixture
def rendered(tmp_path: Path) -> StackLayout:
    """A checkout whose `.stack/` was written as `taskhub-stack up` writes it, from an
    earlier stack's world-readable folders."""
    root = tmp_path / "checkout"
    for template in TEMPLATES:
        (root / template).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / template, root / template)
    layout = StackLayout(root)
    # An earlier stack made these traversable for other users.
    for folder in (layout.stack_dir, layout.run_dir, layout.log_dir):
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    stack = NativeStack(root, environ={})
    stack.make_dirs()
    bins = {name: Path(f"/opt/bin/{name}") for name in PATH_PROGRAMS}
    stack.write_configs(
        SystemPrograms({**bins, "postgres": Path("/opt/pg/bin/postgres")}),
        load_or_create_credentials(layout.credentials_file),
        PgLocation(tmp_path / "pg", tmp_path / "pg-socket"),
        pg_user="postgres",
        nginx_user="nobody nogroup",
        nginx_temp=tmp_path / "nginx",
    )
    return layout


def test_every_file_holding_a_secret_is_owner_only(rendered: StackLayout) -> None:
    found = assert_no_secret_is_exposed(rendered)

    expected = {
        rendered.credentials_file,
        rendered.env_file,
        rendered.supervisor_conf,
        rendered.run_dir / "redis.conf",
    }
    assert expected <= set(found)


def test_every_rendered_config_is_owner_only(rendered: StackLayout) -> None:
    # nginx.conf and prometheus.yml hold no secret today; owner-only keeps it so tomorrow.
    names = ("supervisord.conf", "redis.conf", "nginx.conf", "prometheus.yml", "alertmanager.yml")
    for name in names:
        assert mode(rendered.run_dir / name) == 0o600, name


def test_files_an_earlier_stack_left_readable_are_tightened(rendered: StackLayout) -> None:
    old_log = rendered.log_dir / "auth-svc.log"
    old_log.write_text("an earlier run\n")
    old_log.chmod(0o644)
    NativeStack(rendered.root, environ={}).make_dirs()

    assert mode(old_log) == 0o600


def test_every_folder_of_the_stack_is_owner_only(rendered: StackLayout) -> None:
    for folder in rendered.private_dirs:
        assert mode(folder) == 0o700, folder


def test_supervisord_and_its_programs_create_owner_only_files() -> None:
    # Logs, sockets and schedules are created by supervisord and its programs, not by us.
    text = (ROOT / "infra/native/supervisord.conf.template").read_text()
    section = text.split("[supervisord]", 1)[1].split("\n[", 1)[0]
    assert "\numask=077\n" in section


# --- the running stack of this checkout ------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> NativeStack:
    stack = NativeStack()
    if not stack.is_running():
        pytest.skip("the native stack is not running (`taskhub-stack up --infra-only`)")
    return stack


def test_no_secret_of_the_running_stack_is_readable_by_others(stack: NativeStack) -> None:
    layout = stack.layout
    # The cluster's own files (SCRAM verifiers, no clear values) belong to PostgreSQL.
    found = assert_no_secret_is_exposed(layout, skip=(layout.stack_dir / "pg",))

    assert layout.supervisor_conf in found
    assert layout.run_dir / "redis.conf" in found
    for folder in layout.private_dirs:
        assert mode(folder) == 0o700, folder
    for log in layout.log_dir.iterdir():
        assert mode(log) == 0o600, log


def redis_reply(port: int, *commands: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"".join(commands))
        return conn.recv(256)


def test_redis_refuses_clients_without_the_password(stack: NativeStack) -> None:
    password = load_or_create_credentials(stack.layout.credentials_file)["REDIS_PASSWORD"]

    assert redis_reply(stack.ports.redis, redis_command("PING")).startswith(b"-NOAUTH")
    wrong = redis_reply(stack.ports.redis, redis_command("AUTH", "wrong"))
    assert wrong.startswith(b"-WRONGPASS")
    assert redis_answers(stack.ports.redis, password)
    # What the services use: every Redis URL of the stack authenticates.
    for key, url in stack.env().items():
        if url.startswith("redis://"):
            assert f":{password}@" in url, key


@pytest.mark.parametrize("worker", ["celery_metrics", "arq_metrics"])
def test_worker_metrics_are_served_on_loopback_only(stack: NativeStack, worker: str) -> None:
    port = dict(stack.ports.items())[worker]
    if not port_is_open(port):
        pytest.skip(f"{worker} is not being served (the workers are not running)")
    # Bound to 127.0.0.1, not to every address: another address of this host gets nothing.
    assert not port_is_open(port, host="127.0.0.7")


def test_password_hash_slots_live_in_the_stack(stack: NativeStack) -> None:
    slots = Path(stack.env()["AUTH_PASSWORD_HASH_SLOTS_DIR"])

    assert slots == stack.layout.password_hash_slots_dir
    assert mode(slots) == 0o700


async def duplicate_insert(url: str, table: str, email: str) -> None:
    """Two inserts of `email` into a unique column: once bound, once as a literal."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f"CREATE TABLE {table} (email text UNIQUE)")
        await connection.execute(f"INSERT INTO {table} VALUES ($1)", email)
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute(f"INSERT INTO {table} VALUES ($1)", email)
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute(f"INSERT INTO {table} VALUES ('{email}')")
    finally:
        await connection.execute(f"DROP TABLE IF EXISTS {table}")
        await connection.close()


def test_postgres_logs_errors_without_the_values(stack: NativeStack) -> None:
    url = stack.env(test=True)["AUTH_DATABASE_URL"].replace("+asyncpg", "")
    table = f"log_probe_{uuid.uuid4().hex[:8]}"
    email = f"log-probe-{uuid.uuid4().hex[:8]}@example.com"
    asyncio.run(duplicate_insert(url, table, email))

    log = stack.log_path("postgres")
    deadline = time.monotonic() + 5
    while f"{table}_email_key" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    # The errors are logged (this is the right log) but say nothing of the row.
    assert text.count(f'violates unique constraint "{table}_email_key"') == 2
    assert email not in text

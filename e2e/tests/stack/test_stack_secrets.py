"""Every file the native stack writes that holds a secret is owner-only, in owner-only folders."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskhub_e2e.stack.credentials import load_or_create_credentials
from taskhub_e2e.stack.layout import PgLocation, StackLayout
from taskhub_e2e.stack.native import NativeStack
from taskhub_e2e.stack.prereqs import SystemPrograms

ROOT = Path(__file__).resolve().parents[3]
# The templates `taskhub-stack up` renders, copied into a throwaway checkout.
TEMPLATES = (
    "infra/native/supervisord.conf.template",
    "infra/native/redis.conf.template",
    "gateway/nginx.conf.template",
    "infra/prometheus/prometheus.yml.template",
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
    bins = {name: Path(f"/opt/bin/{name}") for name in ("redis-server", "nginx", "prometheus")}
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
    for name in ("supervisord.conf", "redis.conf", "nginx.conf", "prometheus.yml"):
        assert mode(rendered.run_dir / name) == 0o600, name


def test_every_folder_of_the_stack_is_owner_only(rendered: StackLayout) -> None:
    for folder in rendered.private_dirs:
        assert mode(folder) == 0o700, folder


def test_supervisord_and_its_programs_create_owner_only_files() -> None:
    # Logs, sockets and schedules are created by supervisord and its programs, not by us.
    text = (ROOT / "infra/native/supervisord.conf.template").read_text()
    section = text.split("[supervisord]", 1)[1].split("\n[", 1)[0]
    assert "\numask=077\n" in section

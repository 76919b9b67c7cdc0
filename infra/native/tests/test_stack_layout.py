"""Where PostgreSQL and nginx keep their files, for users that may not reach the checkout."""

from __future__ import annotations

import os
import pwd
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskhub_stack.layout import (
    PG_SYSTEM_USER,
    checkout_hash,
    choose_pg_location,
    nginx_temp_dir,
    orphaned_cluster,
    user_can_traverse,
)


def reachable(_user: str, _folder: Path) -> bool:
    return True


def unreachable(_user: str, _folder: Path) -> bool:
    return False


def test_default_is_inside_the_checkout(tmp_path: Path) -> None:
    location = choose_pg_location(
        tmp_path / ".stack", "postgres", environ={}, can_traverse=reachable
    )

    assert location.data_dir == tmp_path / ".stack" / "pg"
    assert location.socket_dir == tmp_path / ".stack" / "run" / "pg"
    assert location.note is None


def test_unreachable_checkout_falls_back_to_a_per_checkout_folder(tmp_path: Path) -> None:
    base = tmp_path / "var-lib"
    location = choose_pg_location(
        tmp_path / ".stack", "postgres", environ={}, can_traverse=unreachable, fallback_base=base
    )

    assert location.data_dir == base / checkout_hash(tmp_path) / "pg"
    assert location.socket_dir == base / checkout_hash(tmp_path) / "socket"
    assert "cannot traverse" in (location.note or "")
    assert checkout_hash(tmp_path) != checkout_hash(tmp_path / "other")


def test_a_cluster_at_the_fallback_stays_there(tmp_path: Path) -> None:
    base = tmp_path / "var-lib"
    (base / checkout_hash(tmp_path) / "pg").mkdir(parents=True)
    (base / checkout_hash(tmp_path) / "pg" / "PG_VERSION").write_text("15\n")
    location = choose_pg_location(
        tmp_path / ".stack", "postgres", environ={}, can_traverse=reachable, fallback_base=base
    )

    assert location.data_dir == base / checkout_hash(tmp_path) / "pg"


def test_a_cluster_outside_a_new_stack_is_an_earlier_stacks(tmp_path: Path) -> None:
    # After `clean`, or in a new clone in the same folder, a cluster under /var/lib/taskhub
    # has passwords nobody knows any more; one inside `.stack/` would have gone with it.
    base = tmp_path / "var-lib"
    outside = choose_pg_location(
        tmp_path / ".stack", "postgres", environ={}, can_traverse=unreachable, fallback_base=base
    )
    inside = choose_pg_location(
        tmp_path / ".stack", "postgres", environ={}, can_traverse=reachable, fallback_base=base
    )
    assert not orphaned_cluster(outside, tmp_path / ".stack")  # nothing there yet

    outside.data_dir.mkdir(parents=True)
    (outside.data_dir / "PG_VERSION").write_text("15\n")
    inside.data_dir.mkdir(parents=True)
    (inside.data_dir / "PG_VERSION").write_text("15\n")

    assert orphaned_cluster(outside, tmp_path / ".stack")
    assert not orphaned_cluster(inside, tmp_path / ".stack")


def test_environment_overrides_win(tmp_path: Path) -> None:
    location = choose_pg_location(
        tmp_path / ".stack",
        "postgres",
        environ={"TASKHUB_PG_DATA_DIR": "/data/pg", "TASKHUB_PG_SOCKET_DIR": "/run/pg"},
        can_traverse=unreachable,
    )

    assert (location.data_dir, location.socket_dir) == (Path("/data/pg"), Path("/run/pg"))


def test_nginx_temp_dir_follows_its_workers_reach(tmp_path: Path) -> None:
    stack = tmp_path / ".stack"
    base = tmp_path / "var-lib"

    assert nginx_temp_dir(stack, "nobody", can_traverse=reachable) == stack / "run" / "nginx"
    assert nginx_temp_dir(stack, "nobody", can_traverse=unreachable, fallback_base=base) == (
        base / checkout_hash(tmp_path) / "nginx"
    )


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder every user can traverse (pytest's own tmp folders are private to root)."""
    with tempfile.TemporaryDirectory(prefix="taskhub-layout-") as folder:
        os.chmod(folder, 0o755)  # noqa: S103 - only traversal, for the probed user
        yield Path(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="probing another user's reach needs root")
def test_probe_sees_a_private_parent_folder(shared_tmp: Path) -> None:
    pwd.getpwnam(PG_SYSTEM_USER)  # the postgresql package creates it
    open_checkout = shared_tmp / "open" / ".stack"
    closed_checkout = shared_tmp / "closed" / "home" / ".stack"
    open_checkout.mkdir(parents=True)
    closed_checkout.mkdir(parents=True)
    (shared_tmp / "closed").chmod(0o700)

    assert user_can_traverse(PG_SYSTEM_USER, open_checkout)
    assert not user_can_traverse(PG_SYSTEM_USER, closed_checkout)
    location = choose_pg_location(
        closed_checkout, PG_SYSTEM_USER, environ={}, fallback_base=shared_tmp / "fallback"
    )
    assert location.data_dir.is_relative_to(shared_tmp / "fallback")

"""argon2id hashing: correctness, rehash of weak hashes, and that it never blocks the loop."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from auth_svc.core.passwords import (
    HASHING_NICENESS,
    HostSlots,
    PasswordHashing,
    UnsafeSlotsDirectory,
)

PASSWORD = "a long enough password"


async def test_a_hash_verifies_only_its_own_password(tmp_path: Path) -> None:
    hashing = PasswordHashing(concurrency=2, slots_dir=tmp_path)
    stored = await hashing.hash(PASSWORD)

    assert stored.startswith("$argon2id$")
    assert (await hashing.verify(stored, PASSWORD)).ok
    assert not (await hashing.verify(stored, PASSWORD + "!")).ok


async def test_no_stored_hash_and_broken_hashes_fail_without_raising(tmp_path: Path) -> None:
    hashing = PasswordHashing(concurrency=1, slots_dir=tmp_path)
    assert not (await hashing.verify(None, PASSWORD)).ok
    assert not (await hashing.verify("not-an-argon2-hash", PASSWORD)).ok


async def test_an_unknown_user_costs_a_full_verification(tmp_path: Path) -> None:
    hashing = PasswordHashing(concurrency=1, slots_dir=tmp_path)
    stored = await hashing.hash(PASSWORD)

    started = time.perf_counter()
    await hashing.verify(stored, "wrong password")
    real = time.perf_counter() - started
    started = time.perf_counter()
    await hashing.verify(None, "wrong password")
    dummy = time.perf_counter() - started

    # Same argon2 work either way; a skipped verification would be ~1000x faster.
    assert dummy > real / 4


async def test_weak_hashes_are_replaced_on_successful_verification(tmp_path: Path) -> None:
    hashing = PasswordHashing(concurrency=1, slots_dir=tmp_path)
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID).hash(PASSWORD)

    check = await hashing.verify(weak, PASSWORD)

    assert check.ok
    assert check.new_hash is not None
    assert check.new_hash != weak
    assert not PasswordHasher().check_needs_rehash(check.new_hash)
    assert (await hashing.verify(check.new_hash, PASSWORD)).new_hash is None


async def test_hashing_runs_off_the_event_loop(tmp_path: Path) -> None:
    hashing = PasswordHashing(concurrency=1, slots_dir=tmp_path)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    await hashing.hash(PASSWORD)
    elapsed = time.perf_counter() - started
    done.set()
    await ticking

    # A hash on the loop thread would leave the ticker at one or two ticks.
    assert elapsed > 0.01
    assert ticks >= 5


async def test_concurrent_hashes_queue_behind_the_limit(tmp_path: Path) -> None:
    hashing = PasswordHashing(concurrency=1, slots_dir=tmp_path)
    limiter = hashing._limiter
    jobs = [asyncio.create_task(hashing.hash(PASSWORD)) for _ in range(3)]
    await asyncio.sleep(0.005)

    assert limiter.borrowed_tokens == 1
    assert limiter.statistics().tasks_waiting == 2
    hashes = await asyncio.gather(*jobs)
    assert len(set(hashes)) == 3  # salted: every hash differs
    assert limiter.borrowed_tokens == 0


def _acquire_in_a_thread(slots: HostSlots, release: threading.Event) -> threading.Event:
    acquired = threading.Event()

    def hold() -> None:
        with slots.held():
            acquired.set()
            release.wait(5)

    threading.Thread(target=hold, daemon=True).start()
    return acquired


def test_host_slots_admit_count_holders_across_instances(tmp_path: Path) -> None:
    # Two instances over one folder stand for two worker processes of one host: each
    # holder opens its own file description, which is what flock excludes.
    release = threading.Event()
    first = _acquire_in_a_thread(HostSlots(tmp_path, 1), release)
    assert first.wait(5)
    second = _acquire_in_a_thread(HostSlots(tmp_path, 1), threading.Event())
    assert not second.wait(0.2), "a second holder got the only slot"
    release.set()
    assert second.wait(5)


@pytest.mark.parametrize("count", [2, 3])
def test_host_slots_admit_as_many_holders_as_slots(tmp_path: Path, count: int) -> None:
    release = threading.Event()
    holders = [_acquire_in_a_thread(HostSlots(tmp_path, count), release) for _ in range(count)]
    try:
        assert all(holder.wait(5) for holder in holders)
    finally:
        release.set()


def test_hashing_threads_yield_the_cpu_to_request_handling(tmp_path: Path) -> None:
    hashing = PasswordHashing(concurrency=1, slots_dir=tmp_path)
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    niceness = hashing._threads.submit(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    ).result()
    assert niceness == min(19, own + HASHING_NICENESS)


def test_the_slots_folder_is_created_private(tmp_path: Path) -> None:
    folder = tmp_path / "shared" / "slots"

    HostSlots(folder, 1)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert folder.stat().st_uid == os.geteuid()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o1777])
def test_a_slots_folder_others_may_write_to_is_refused(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "slots"
    folder.mkdir()
    folder.chmod(mode)

    with pytest.raises(UnsafeSlotsDirectory, match="writable by others"):
        HostSlots(folder, 1)


def test_a_slots_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "slots"
    folder.mkdir(mode=0o700)
    if os.geteuid() != 0:
        pytest.skip("only root can give a folder away to another user")
    os.chown(folder, 54321, -1)

    with pytest.raises(UnsafeSlotsDirectory, match="belongs to uid 54321"):
        HostSlots(folder, 1)


def test_a_link_in_place_of_the_slots_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "slots"
    link.symlink_to(target)

    with pytest.raises(UnsafeSlotsDirectory, match="not a directory"):
        HostSlots(link, 1)

"""Password hashing with argon2id, off the event loop and with bounded concurrency.

One argon2 computation costs tens of milliseconds of CPU and 64 MiB of memory. It runs in
a worker thread (argon2-cffi releases the GIL), and at most `concurrency` of them run at
once on the host, across every worker process of the service: a burst of logins waits
instead of piling up threads that would only fight over the same cores, and the cores
left free keep answering everything else.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import random
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

logger = logging.getLogger(__name__)

# Hashing threads yield the CPU to everything else: a request that needs no hash should
# not wait behind one that does. Raising one's own nice value needs no privilege.
HASHING_NICENESS = 10


def _lower_this_threads_priority() -> None:
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + HASHING_NICENESS))
    except OSError as exc:  # a sandbox may forbid it; hashing still works
        logger.warning("could not lower the hashing thread's priority: %s", exc)


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    # A new hash when the stored one uses weaker parameters than today's defaults.
    new_hash: str | None = None


# A lock file is never followed through a symbolic link.
_LOCK_FILE_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW


class UnsafeSlotsDirectory(RuntimeError):
    """The slots folder is not ours alone: another user could hold or swap our locks."""


def _ensure_private_directory(directory: Path) -> None:
    """Create `directory` with mode 0700, or accept it only if it is ours and private.

    Whoever else can write to it could pre-create the lock files (and hold them forever,
    or replace them), so a folder of another owner, a link, or one writable by group or
    others stops the service with a clear message.
    """
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeSlotsDirectory(f"{directory} is not a directory (a link or a file?)")
    if info.st_uid != os.geteuid():
        raise UnsafeSlotsDirectory(
            f"{directory} belongs to uid {info.st_uid}, not to this process ({os.geteuid()})"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeSlotsDirectory(
            f"{directory} is writable by others (mode {stat.S_IMODE(info.st_mode):o})"
        )


class HostSlots:
    """At most `count` holders at a time among all processes sharing `directory`.

    gunicorn runs several workers per host, each with its own in-process limit; without
    this, N workers would hash on N x `count` cores. A slot is an exclusive `flock` on one
    of `count` files: the kernel hands it over when released, also when its holder dies.
    """

    def __init__(self, directory: Path, count: int) -> None:
        _ensure_private_directory(directory)
        self._paths = [directory / f"slot-{number}.lock" for number in range(count)]

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a slot for the block; blocks the calling thread (never the event loop's)."""
        descriptor = self._acquire()
        try:
            yield
        finally:
            os.close(descriptor)  # closing the file releases its lock

    def _acquire(self) -> int:
        for path in self._paths:
            descriptor = os.open(path, _LOCK_FILE_FLAGS, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                os.close(descriptor)
        # All busy: wait for one of them (any; each is released within one hash).
        descriptor = os.open(random.choice(self._paths), _LOCK_FILE_FLAGS, 0o600)  # noqa: S311
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return descriptor


class PasswordHashing:
    """argon2id with argon2-cffi's defaults (above the OWASP minimum)."""

    def __init__(self, *, concurrency: int, slots_dir: Path) -> None:
        self._hasher = PasswordHasher()
        # Threads of this process beyond the host's slots would only wait in `flock`.
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._slots = HostSlots(slots_dir, concurrency)
        self._threads = ThreadPoolExecutor(
            max_workers=concurrency,
            thread_name_prefix="argon2",
            initializer=_lower_this_threads_priority,
        )
        # Unknown e-mails are verified against this hash so they cost the same time as a
        # wrong password (no account enumeration by timing).
        self._dummy_hash = self._hasher.hash("taskhub-timing-equaliser")

    async def hash(self, password: str) -> str:
        return await self._in_a_slot(lambda: self._hasher.hash(password))

    async def verify(self, stored_hash: str | None, password: str) -> PasswordCheck:
        """Check `password`; `stored_hash=None` (no such user) burns the same time and fails."""
        if stored_hash is None:
            await self._in_a_slot(lambda: self._verify(self._dummy_hash, password))
            return PasswordCheck(ok=False)
        return await self._in_a_slot(lambda: self._check(stored_hash, password))

    async def _in_a_slot[T](self, work: Callable[[], T]) -> T:
        def run() -> T:
            with self._slots.held():
                return work()

        async with self._limiter:
            return await asyncio.get_running_loop().run_in_executor(self._threads, run)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _check(self, stored_hash: str, password: str) -> PasswordCheck:
        # Rehashing in the same thread keeps it inside the concurrency bound.
        if not self._verify(stored_hash, password):
            return PasswordCheck(ok=False)
        if self._hasher.check_needs_rehash(stored_hash):
            return PasswordCheck(ok=True, new_hash=self._hasher.hash(password))
        return PasswordCheck(ok=True)

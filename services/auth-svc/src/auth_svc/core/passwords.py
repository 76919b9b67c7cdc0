"""Password hashing with argon2id, off the event loop and with bounded concurrency.

One argon2 computation costs tens of milliseconds of CPU and 64 MiB of memory. It runs in
a worker thread (argon2-cffi releases the GIL), and a capacity limiter admits at most
`concurrency` of them at once: a burst of logins waits in the limiter's queue instead of
piling up threads that would only fight over the same cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    # A new hash when the stored one uses weaker parameters than today's defaults.
    new_hash: str | None = None


class PasswordHashing:
    """argon2id with argon2-cffi's defaults (above the OWASP minimum)."""

    def __init__(self, *, concurrency: int) -> None:
        self._hasher = PasswordHasher()
        self._limiter = anyio.CapacityLimiter(concurrency)
        # Unknown e-mails are verified against this hash so they cost the same time as a
        # wrong password (no account enumeration by timing).
        self._dummy_hash = self._hasher.hash("taskhub-timing-equaliser")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, stored_hash: str | None, password: str) -> PasswordCheck:
        """Check `password`; `stored_hash=None` (no such user) burns the same time and fails."""
        if stored_hash is None:
            await anyio.to_thread.run_sync(
                self._verify, self._dummy_hash, password, limiter=self._limiter
            )
            return PasswordCheck(ok=False)
        return await anyio.to_thread.run_sync(
            self._check, stored_hash, password, limiter=self._limiter
        )

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

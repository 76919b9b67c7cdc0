"""Unique identities per run, xdist worker and scenario, so scenarios never share a user.

An e-mail reads `e2e-<run id>-<worker>-<n>@<domain>`: a run never collides with an earlier
one against the same deployment, and two workers never collide with each other.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field

# `example.com` rather than `example.test`: common e-mail validators reject the `.test`
# special-use domain outright, and the services may use one of them.
DEFAULT_EMAIL_DOMAIN = "example.com"
_UNSAFE = re.compile(r"[^a-z0-9]+")


def new_run_id() -> str:
    """Short, sortable and unique enough: time of day plus random hex."""
    return time.strftime("%m%d%H%M%S") + secrets.token_hex(2)


def strong_password() -> str:
    # Letters, digits and a symbol, long enough for any reasonable password policy.
    return f"E2e-{secrets.token_urlsafe(12)}-9z"


@dataclass(frozen=True)
class Person:
    """Someone in a scenario: `name` is the Gherkin name ("Alice")."""

    name: str
    email: str
    password: str


@dataclass
class IdentityFactory:
    """Hands out unique e-mail addresses for one test process (one xdist worker)."""

    run_id: str
    worker: str
    domain: str = DEFAULT_EMAIL_DOMAIN
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def email(self) -> str:
        worker = _UNSAFE.sub("", self.worker.lower()) or "main"
        return f"e2e-{self.run_id}-{worker}-{next(self._counter)}@{self.domain}"

    def person(self, name: str) -> Person:
        return Person(name=name, email=self.email(), password=strong_password())

    def request_id_prefix(self) -> str:
        """A prefix for the request ids one scenario's client sends."""
        return f"e2e-{self.run_id}-{self.worker}-{next(self._counter)}"

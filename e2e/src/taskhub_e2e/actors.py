"""The people of a scenario ("Alice", "the administrator") and what they hold.

A `Cast` lives for one scenario (a function-scoped fixture): steps look people up by name
or pronoun, and each person gets an e-mail address no other scenario or run uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.people import IdentityFactory, Person
from taskhub_e2e.target import Credentials

# Words that mean "the person the scenario spoke of last".
PRONOUNS = frozenset({"she", "he", "they", "her", "him", "his", "their", "them"})
ADMINISTRATOR = "the administrator"


@dataclass
class Actor:
    person: Person
    user_id: str | None = None
    access: str | None = None
    refresh: str | None = None
    # Refresh tokens this actor already traded in, oldest first.
    spent_refresh: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.person.name

    def require_access(self) -> str:
        assert self.access, f"{self.name} has not signed in"
        return self.access

    def require_refresh(self) -> str:
        assert self.refresh, f"{self.name} has no refresh token"
        return self.refresh

    def take_tokens(self, body: dict[str, object]) -> None:
        """Keep a new token pair; the refresh token it replaces counts as spent."""
        if self.refresh:
            self.spent_refresh.append(self.refresh)
        self.access, self.refresh = str(body["access"]), str(body["refresh"])


class Cast:
    """Everyone in one scenario, plus every answer they got, in order."""

    def __init__(self, identities: IdentityFactory, api: TaskHubClient) -> None:
        self.identities = identities
        self.api = api
        self.actors: dict[str, Actor] = {}
        self.current: Actor | None = None
        self.replies: list[httpx.Response] = []

    def __getitem__(self, who: str) -> Actor:
        """The actor called `who` (created on first mention), or the last one for a pronoun."""
        key = who.strip()
        if key.lower() in PRONOUNS:
            assert self.current is not None, f"{who!r} refers to nobody yet"
            return self.current
        key = key.removesuffix("'s")
        actor = self.actors.get(key)
        if actor is None:
            actor = Actor(self.identities.person(key))
            self.actors[key] = actor
        self.current = actor
        return actor

    def administrator(self, credentials: Credentials) -> Actor:
        """The bootstrap admin of the deployment (its account already exists)."""
        actor = self.actors.get(ADMINISTRATOR)
        if actor is None:
            person = Person(ADMINISTRATOR, credentials.email, credentials.password)
            actor = Actor(person)
            self.actors[ADMINISTRATOR] = actor
        return actor

    def answered(self, response: httpx.Response) -> httpx.Response:
        self.replies.append(response)
        return response

"""The tasks of one scenario and the plain helpers the task steps share.

A `TaskBook` holds every task the scenario created with its latest known body, so a step
can compute which tasks a filter must return and compare ids, not only totals. Kept out
of `steps/` so that other step libraries import it without importing a step module.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from taskhub_client.generated.api.tasks import tasks_bulk_set_status, tasks_create, tasks_update
from taskhub_client.generated.models.bulk_status_request import BulkStatusRequest
from taskhub_client.generated.models.task_create import TaskCreate
from taskhub_client.generated.models.task_update import TaskUpdate
from taskhub_e2e.actors import Actor
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import expect_status, json_body
from taskhub_e2e.python_client import through_client

# The words of the feature files for the API's statuses.
STATUSES = {"to do": "todo", "in progress": "in_progress", "done": "done", "canceled": "canceled"}
MAX_PAGE_SIZE = 100
MAX_PAGES = 20


@dataclass
class TaskBook:
    """The tasks of one scenario: id -> latest body, and which one "the task" is."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: str | None = None
    # The pages of the latest paged read, and the ids that read had to return.
    pages: list[dict[str, Any]] = field(default_factory=list)
    expected_ids: set[str] = field(default_factory=set)

    def keep(self, body: dict[str, Any]) -> dict[str, Any]:
        self.tasks[body["id"]] = body
        self.current = body["id"]
        return body

    def the_task(self) -> dict[str, Any]:
        assert self.current is not None, "the scenario has no task yet"
        return self.tasks[self.current]

    def owned_by(self, actor: Actor) -> list[dict[str, Any]]:
        return [task for task in self.tasks.values() if task["owner_id"] == actor.user_id]

    def latest_of(self, actor: Actor) -> dict[str, Any]:
        owned = self.owned_by(actor)
        assert owned, f"{actor.name} has no task in this scenario"
        return owned[-1]

    def visible_to(self, actor: Actor) -> list[dict[str, Any]]:
        return [
            task
            for task in self.tasks.values()
            if actor.user_id in (task["owner_id"], task["assignee_id"])
        ]


def status_value(words: str) -> str:
    assert words in STATUSES, f"no status called {words!r}; known: {sorted(STATUSES)}"
    return STATUSES[words]


def moment(words: str, now: datetime | None = None) -> datetime:
    """ "now", "in 2 days", "1 day ago", "an hour from now" (seconds, minutes, hours, days)."""
    now = now or datetime.now(UTC)
    words = words.strip()
    if words == "now":
        return now
    match = re.fullmatch(
        r"(?:in )?(?P<n>\d+|an?) (?P<unit>second|minute|hour|day)s?(?P<dir> ago| from now)?",
        words,
    )
    assert match, f"not a moment: {words!r}"
    count = 1 if match["n"] in ("a", "an") else int(match["n"])
    delta = timedelta(**{f"{match['unit']}s": count})
    return now - delta if match["dir"] == " ago" else now + delta


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def split_words(text: str) -> list[str]:
    """ "Work, urgent, work" -> ["Work", "urgent", "work"]; an empty cell -> []."""
    return [part.strip() for part in text.split(",") if part.strip()]


def task_fields(rows: list[list[str]]) -> dict[str, Any]:
    """A vertical table (`| title | ... |`) in the feature's words -> API fields."""
    fields: dict[str, Any] = {}
    for name, value in rows:
        if name == "tags":
            fields["tags"] = split_words(value)
        elif name == "due":
            fields["due_at"] = iso(moment(value))
        elif name == "status":
            fields["status"] = status_value(value)
        else:
            fields[name] = value
    return fields


def create_task(api: TaskHubClient, actor: Actor, book: TaskBook, **fields: Any) -> httpx.Response:
    fields.setdefault("title", f"Task {len(book.tasks) + 1}")
    token = actor.require_access()
    response = through_client(
        api,
        token,
        tasks_create.sync_detailed,
        body=(TaskCreate, fields),
        unexpressible=lambda: api.create_task(token, **fields),
    )
    if response.status_code == 201:
        book.keep(json_body(response))
    return response


def create_tasks(
    api: TaskHubClient, actor: Actor, book: TaskBook, count: int, **fields: Any
) -> None:
    for _ in range(count):
        expect_status(create_task(api, actor, book, **fields), 201)


def mark_done(
    api: TaskHubClient, actor: Actor, book: TaskBook, task_ids: list[str], *, bulk: bool
) -> httpx.Response:
    """Move one task to done with a change, or many at once (bulk); the books follow."""
    if not bulk:
        (task_id,) = task_ids
        response = through_client(
            api,
            actor.require_access(),
            tasks_update.sync_detailed,
            uuid.UUID(task_id),
            body=(TaskUpdate, {"status": "done"}),
        )
        if response.status_code == 200:
            book.keep(json_body(response))
        return response
    response = through_client(
        api,
        actor.require_access(),
        tasks_bulk_set_status.sync_detailed,
        body=(BulkStatusRequest, {"ids": task_ids, "status": "done"}),
    )
    if response.status_code == 200:
        for task_id in json_body(response)["updated"]:
            book.tasks[task_id]["status"] = "done"
    return response


def all_tasks(api: TaskHubClient, actor: Actor, **filters: Any) -> dict[str, Any]:
    """One page of at most 100 tasks matching `filters`: enough for any scenario's set."""
    response = api.list_tasks(actor.require_access(), limit=MAX_PAGE_SIZE, **filters)
    expect_status(response, 200)
    body: dict[str, Any] = json_body(response)
    assert body["total"] <= MAX_PAGE_SIZE, f"more tasks than one page holds: {body['total']}"
    return body


def matches(task: dict[str, Any], status: str, tags: list[str], assignee: str | None) -> bool:
    return (
        (not status or task["status"] == status)
        and set(tags) <= set(task["tags"])
        and (assignee is None or task["assignee_id"] == assignee)
    )


def read_pages(api: TaskHubClient, actor: Actor, size: int, **filters: Any) -> list[dict[str, Any]]:
    """Pages 1, 2, ... up to and including the first empty one."""
    pages = []
    for number in range(1, MAX_PAGES + 1):
        response = api.list_tasks(actor.require_access(), page=number, limit=size, **filters)
        expect_status(response, 200)
        page = json_body(response)
        pages.append(page)
        if not page["items"]:
            break
    return pages

"""Steps of tasks: create, read, change, delete, find by filters and pages, bulk status.

The scenario's tasks live in a `TaskBook` (`task_book`, a function-scoped fixture).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from taskhub_client.generated.api.tasks import tasks_delete, tasks_get, tasks_update
from taskhub_client.generated.models.task_update import TaskUpdate
from taskhub_e2e.actors import Actor, Cast
from taskhub_e2e.client import TaskHubClient
from taskhub_e2e.outcomes import describe, expect_status, json_body
from taskhub_e2e.python_client import through_client
from taskhub_e2e.steps.auth import ensure_account, ensure_signed_in
from taskhub_e2e.taskbook import (
    TaskBook,
    all_tasks,
    create_task,
    create_tasks,
    iso,
    mark_done,
    matches,
    moment,
    read_pages,
    split_words,
    status_value,
    task_fields,
)

WHO = r"(?P<who>[A-Z][a-z]+|she|he|they)"
NAME = r"[A-Z][a-z]+"
HER = r"(?:her|his|their)"
STATUS_PHRASE = r"to do|in progress|done|canceled"
RATE_LIMIT_WINDOW_SECONDS = 60


@pytest.fixture
def task_book() -> TaskBook:
    return TaskBook()


# --- helpers (plain functions: steps call them, they are not steps) --------------------


def the_others(cast: Cast, who: str, *others: str) -> Actor:
    """`cast[who]`, looked up last so that "she" still means them after `others` (who get
    an account) were mentioned."""
    for other in others:
        ensure_account(cast.api, cast[other])
    return cast[who]


# --- creating --------------------------------------------------------------------------


@when(parsers.re(rf"^{WHO} creates a task:$"), target_fixture="reply")
def creates_task_from_table(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, datatable: list[list[str]]
) -> httpx.Response:
    return cast.answered(create_task(api, cast[who], task_book, **task_fields(datatable)))


@when(parsers.re(rf"^{WHO} creates (?:a|one more) task$"), target_fixture="reply")
def creates_task(cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str) -> httpx.Response:
    actor = cast[who]
    ensure_signed_in(api, actor)
    return cast.answered(create_task(api, actor, task_book))


@given(parsers.re(rf"^{WHO} has created (?P<count>\d+) tasks within the last minute$"))
@when(parsers.re(rf"^{WHO} creates (?P<count>\d+) tasks within a minute$"))
def creates_many(cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, count: str) -> None:
    actor = cast[who]
    ensure_signed_in(api, actor)
    started = time.monotonic()
    create_tasks(api, actor, task_book, int(count))
    elapsed = time.monotonic() - started
    assert elapsed < RATE_LIMIT_WINDOW_SECONDS, f"{count} creations took {elapsed:.0f} s"


@given(parsers.re(rf'^{WHO} has a task "(?P<title>[^"]+)"(?: assigned to (?P<assignee>{NAME}))?$'))
def has_task(
    cast: Cast,
    api: TaskHubClient,
    task_book: TaskBook,
    who: str,
    title: str,
    assignee: str | None,
) -> None:
    actor = the_others(cast, who, *([assignee] if assignee else []))
    ensure_signed_in(api, actor)
    fields: dict[str, Any] = {"title": title}
    if assignee:
        fields["assignee_id"] = cast.actors[assignee].user_id
    expect_status(create_task(api, actor, task_book, **fields), 201)


@given(parsers.re(rf"^{WHO} has these tasks:$"))
def has_these_tasks(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, datatable: list[list[str]]
) -> None:
    actor = cast[who]
    ensure_signed_in(api, actor)
    header, *rows = datatable
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        fields: dict[str, Any] = {"title": cells["title"]}
        if cells.get("due"):
            fields["due_at"] = iso(moment(cells["due"]))
        expect_status(create_task(api, actor, task_book, **fields), 201)


@given("these tasks exist:")
def these_tasks_exist(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, datatable: list[list[str]]
) -> None:
    header, *rows = datatable
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        owner = cast[cells["owner"]]
        ensure_signed_in(api, owner)
        fields: dict[str, Any] = {
            "status": status_value(cells["status"]),
            "tags": split_words(cells["tags"]),
        }
        if cells["assignee"]:
            assignee = cast[cells["assignee"]]
            ensure_account(api, assignee)
            fields["assignee_id"] = assignee.user_id
        create_tasks(api, owner, task_book, int(cells["count"]), **fields)


@then("the task is created")
def task_created(reply: httpx.Response) -> None:
    expect_status(reply, 201)


@then(parsers.re(r"^the task is created as (?:hers|his|theirs), to do$"))
def task_created_as_mine(cast: Cast, reply: httpx.Response) -> None:
    expect_status(reply, 201)
    body = json_body(reply)
    actor = cast["she"]
    assert body["owner_id"] == actor.user_id, f"the owner is not {actor.name}: {body}"
    assert body["status"] == "todo", body
    assert reply.headers.get("location", "").endswith(f"/tasks/{body['id']}"), describe(reply)


@then(parsers.re(r'^its tags read "(?P<tags>[^"]*)"$'))
def tags_read(task_book: TaskBook, tags: str) -> None:
    assert task_book.the_task()["tags"] == split_words(tags), task_book.the_task()


@then(parsers.re(rf"^{WHO} can read the task back$"))
def reads_back(cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str) -> None:
    task = task_book.the_task()
    token = cast[who].require_access()
    response = through_client(api, token, tasks_get.sync_detailed, uuid.UUID(task["id"]))
    expect_status(response, 200)
    assert json_body(response) == task, f"read back differs: {json_body(response)} != {task}"


# --- changing and deleting -------------------------------------------------------------


@when(parsers.re(rf"^{WHO} changes the task:$"), target_fixture="reply")
def changes_task(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, datatable: list[list[str]]
) -> httpx.Response:
    task = task_book.the_task()
    token, fields = cast[who].require_access(), task_fields(datatable)
    response = through_client(
        api,
        token,
        tasks_update.sync_detailed,
        uuid.UUID(task["id"]),
        body=(TaskUpdate, fields),
        unexpressible=lambda: api.update_task(token, task["id"], **fields),
    )
    if response.status_code == 200:
        task_book.keep(json_body(response))
    return cast.answered(response)


@when(parsers.re(rf"^{WHO} moves the task to (?P<status>{STATUS_PHRASE})$"), target_fixture="reply")
def moves_task(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, status: str
) -> httpx.Response:
    task = task_book.the_task()
    response = api.update_task(cast[who].require_access(), task["id"], status=status_value(status))
    if response.status_code == 200:
        task_book.keep(json_body(response))
    return cast.answered(response)


@then("the task reads:")
def task_reads(
    cast: Cast,
    api: TaskHubClient,
    task_book: TaskBook,
    reply: httpx.Response,
    datatable: list[list[str]],
) -> None:
    expect_status(reply, 200)
    task = task_book.the_task()
    owner = next(actor for actor in cast.actors.values() if actor.user_id == task["owner_id"])
    response = api.get_task(owner.require_access(), task["id"])
    expect_status(response, 200)
    stored = json_body(response)
    for name, value in task_fields(datatable).items():
        assert stored[name] == value, f"{name} is {stored[name]!r}, not {value!r}"


@when(parsers.re(rf"^{WHO} tries to rename the task$"), target_fixture="reply")
def tries_rename(cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str) -> httpx.Response:
    task_id = task_book.the_task()["id"]
    return cast.answered(api.update_task(cast[who].require_access(), task_id, title="Renamed"))


@when(parsers.re(rf"^{WHO} (?:deletes|tries to delete) the task$"), target_fixture="reply")
def deletes_task(cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str) -> httpx.Response:
    task_id = uuid.UUID(task_book.the_task()["id"])
    token = cast[who].require_access()
    return cast.answered(through_client(api, token, tasks_delete.sync_detailed, task_id))


@then("the task is gone")
def task_gone(cast: Cast, api: TaskHubClient, task_book: TaskBook, reply: httpx.Response) -> None:
    expect_status(reply, 204)
    task_id = task_book.the_task()["id"]
    token = cast["she"].require_access()
    response = api.get_task(token, task_id)
    assert response.status_code == 404, f"the task is still there; {describe(response)}"
    listed = {item["id"] for item in all_tasks(api, cast["she"])["items"]}
    assert task_id not in listed, "the deleted task is still listed"


@when(
    parsers.re(rf"^{WHO} marks the task done (?P<how>by changing it|in bulk)$"),
    target_fixture="reply",
)
def marks_task_done(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, how: str
) -> httpx.Response:
    task_id = task_book.the_task()["id"]
    response = mark_done(api, cast[who], task_book, [task_id], bulk=how == "in bulk")
    expect_status(response, 200)
    if how == "in bulk":
        assert json_body(response)["updated"] == [task_id], describe(response)
    return cast.answered(response)


@when(
    parsers.re(rf"^{WHO} marks (?P<count>\d+) of {HER} tasks done at once$"),
    target_fixture="reply",
)
def marks_some_done(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, count: str
) -> httpx.Response:
    actor = cast[who]
    ids = [task["id"] for task in task_book.owned_by(actor)][: int(count)]
    assert len(ids) == int(count), f"{actor.name} has only {len(ids)} tasks"
    return cast.answered(mark_done(api, actor, task_book, ids, bulk=True))


@then(parsers.re(r"^all (?P<count>\d+) are reported updated$"))
def all_updated(task_book: TaskBook, reply: httpx.Response, count: str) -> None:
    expect_status(reply, 200)
    body = json_body(reply)
    asked = set(json.loads(reply.request.content)["ids"])
    assert len(asked) == int(count), f"asked for {len(asked)}"
    assert set(body["updated"]) == asked, f"updated {len(body['updated'])} of {len(asked)}"
    assert body["not_found"] == [], body


# --- someone else's task ---------------------------------------------------------------


@when(parsers.re(rf"^{WHO} looks at (?P<owner>{NAME})'s task$"), target_fixture="reply")
def looks_at(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, owner: str
) -> httpx.Response:
    task = task_book.latest_of(cast.actors[owner])
    return cast.answered(api.get_task(cast[who].require_access(), task["id"]))


@when(parsers.re(rf"^{WHO} tries to change (?P<owner>{NAME})'s task$"), target_fixture="reply")
def tries_change(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, owner: str
) -> httpx.Response:
    task = task_book.latest_of(cast.actors[owner])
    token = cast[who].require_access()
    return cast.answered(api.update_task(token, task["id"], title="Mine now", status="done"))


@when(parsers.re(rf"^{WHO} tries to delete (?P<owner>{NAME})'s task$"), target_fixture="reply")
def tries_delete(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, owner: str
) -> httpx.Response:
    task = task_book.latest_of(cast.actors[owner])
    return cast.answered(api.delete_task(cast[who].require_access(), task["id"]))


@when(parsers.re(rf"^{WHO} marks (?P<owner>{NAME})'s task done in bulk$"), target_fixture="reply")
def marks_theirs_done(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, owner: str
) -> httpx.Response:
    task = task_book.latest_of(cast.actors[owner])
    return cast.answered(api.bulk_status(cast[who].require_access(), [task["id"]], "done"))


@then(parsers.re(rf"^{HER} task is reported as not found$"))
def reported_not_found(task_book: TaskBook, reply: httpx.Response) -> None:
    expect_status(reply, 200)
    body = json_body(reply)
    assert body == {"updated": [], "not_found": [task_book.the_task()["id"]]}, describe(reply)


@then(
    parsers.re(
        rf'^(?P<owner>{NAME})\'s task is still "(?P<title>[^"]+)", (?P<status>{STATUS_PHRASE})$'
    )
)
def task_unchanged(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, owner: str, title: str, status: str
) -> None:
    actor = cast.actors[owner]
    task = task_book.latest_of(actor)
    response = api.get_task(actor.require_access(), task["id"])
    expect_status(response, 200)
    body = json_body(response)
    assert (body["title"], body["status"]) == (title, status_value(status)), body


@then(parsers.re(rf"^(?P<who>{NAME})'s task list does not show (?P<owner>{NAME})'s task$"))
def list_hides(cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, owner: str) -> None:
    task = task_book.latest_of(cast.actors[owner])
    listed = {item["id"] for item in all_tasks(api, cast.actors[who])["items"]}
    assert task["id"] not in listed, f"{who} sees {owner}'s task"


@given(parsers.re(rf"^(?P<first>{NAME}) and (?P<second>{NAME}) have looked at their task lists$"))
def looked_at_lists(cast: Cast, api: TaskHubClient, first: str, second: str) -> None:
    # Lists already read once: a server that kept them must notice the change that follows.
    for name in (first, second):
        all_tasks(api, cast.actors[name])


@then(parsers.re(rf"^(?P<who>{NAME})'s task list shows the task as (?P<status>{STATUS_PHRASE})$"))
def list_shows_status(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, status: str
) -> None:
    task_id = task_book.the_task()["id"]
    listed = {item["id"]: item for item in all_tasks(api, cast.actors[who])["items"]}
    assert task_id in listed, f"{who}'s list lacks the task"
    assert listed[task_id]["status"] == status_value(status), listed[task_id]


# --- finding ---------------------------------------------------------------------------


@then(parsers.re(rf"^(?P<who>{NAME}) finds these numbers of tasks:$"))
def finds_numbers(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, datatable: list[list[str]]
) -> None:
    viewer = cast.actors[who]
    visible = task_book.visible_to(viewer)
    header, *rows = datatable
    problems = []
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        status = status_value(cells["status"]) if cells["status"] else ""
        tags = split_words(cells["tags"])
        assignee = cast.actors[cells["assignee"]].user_id if cells["assignee"] else None
        body = all_tasks(api, viewer, status=status or None, tag=tags or None, assignee_id=assignee)
        expected = {task["id"] for task in visible if matches(task, status, tags, assignee)}
        got = {item["id"] for item in body["items"]}
        if body["total"] != int(cells["total"]) or got != expected:
            problems.append(
                f"{cells}: total {body['total']}, {len(got)} items, "
                f"{len(got - expected)} unexpected, {len(expected - got)} missing"
            )
    assert not problems, "\n".join(problems)


@when(
    parsers.re(rf'^{WHO} reads {HER} tasks(?: tagged "(?P<tag>[^"]+)")? (?P<size>\d+) at a time$')
)
def reads_pages(
    cast: Cast, api: TaskHubClient, task_book: TaskBook, who: str, tag: str | None, size: str
) -> None:
    actor = cast[who]
    task_book.pages = read_pages(api, actor, int(size), tag=tag)
    task_book.expected_ids = {
        task["id"] for task in task_book.visible_to(actor) if not tag or tag in task["tags"]
    }


@then(
    parsers.re(
        rf"^{WHO} gets pages of (?P<sizes>[\d, and]+), every task once, "
        r"and nothing after the last page$"
    )
)
def gets_pages(task_book: TaskBook, who: str, sizes: str) -> None:
    wanted = [int(number) for number in re.findall(r"\d+", sizes)]
    pages = task_book.pages
    assert [len(page["items"]) for page in pages] == [*wanted, 0], (
        f"page sizes {[len(page['items']) for page in pages]}, wanted {wanted} and an empty one"
    )
    assert {page["total"] for page in pages} == {sum(wanted)}, "the total changes between pages"
    ids = [item["id"] for page in pages for item in page["items"]]
    assert len(ids) == len(set(ids)), "a task shows on two pages"
    assert set(ids) == task_book.expected_ids, "the pages miss tasks or show others"
    created = [item["created_at"] for page in pages for item in page["items"]]
    assert created == sorted(created, reverse=True), "the pages are not newest first"


def due_window(window: str) -> dict[str, str | None]:
    """ "after now and before 3 days from now" -> the list's due_after/due_before filters."""
    match = re.fullmatch(r"(?:after (?P<after>.+?))?(?: and )?(?:before (?P<before>.+))?", window)
    assert match, f"not a window: {window!r}"
    assert match["after"] or match["before"], f"not a window: {window!r}"
    return {
        "due_after": iso(moment(match["after"])) if match["after"] else None,
        "due_before": iso(moment(match["before"])) if match["before"] else None,
    }


@then(parsers.re(rf"^{WHO} finds these tasks by their deadline:$"))
def finds_by_deadline(cast: Cast, api: TaskHubClient, who: str, datatable: list[list[str]]) -> None:
    actor = cast[who]
    header, *rows = datatable
    problems = []
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        wanted = [] if cells["titles"] == "nothing" else split_words(cells["titles"])
        found = [
            item["title"] for item in all_tasks(api, actor, **due_window(cells["due"]))["items"]
        ]
        if sorted(found) != sorted(wanted):
            problems.append(f"due {cells['due']}: found {found}, wanted {wanted}")
    assert not problems, "\n".join(problems)


# --- mistakes and limits ---------------------------------------------------------------

Mistake = Callable[[TaskHubClient, str], httpx.Response]
MISTAKES: dict[str, Mistake] = {
    'creates a task with the status "someday"': lambda api, token: api.create_task(
        token, title="Odd", status="someday"
    ),
    "creates a task without a title": lambda api, token: api.create_task(token, priority="high"),
    "creates a task with a field TaskHub does not know": lambda api, token: api.create_task(
        token, title="Odd", colour="blue"
    ),
    "creates a task assigned to someone with no account": lambda api, token: api.create_task(
        token, title="Odd", assignee_id=str(uuid.uuid4())
    ),
    "creates a task that claims another owner": lambda api, token: api.create_task(
        token, title="Odd", owner_id=str(uuid.uuid4())
    ),
    "lists her tasks 1000 at a time": lambda api, token: api.list_tasks(token, limit=1000),
    'lists her tasks with the status "someday"': lambda api, token: api.list_tasks(
        token, status="someday"
    ),
    "marks 101 tasks done at once": lambda api, token: api.bulk_status(
        token, [str(uuid.uuid4()) for _ in range(101)], "done"
    ),
}
MISTAKE = "|".join(re.escape(phrase) for phrase in MISTAKES)


@when(parsers.re(rf"^{WHO} (?P<mistake>{MISTAKE})$"), target_fixture="reply")
def makes_mistake(cast: Cast, api: TaskHubClient, who: str, mistake: str) -> httpx.Response:
    return cast.answered(MISTAKES[mistake](api, cast[who].require_access()))


@then(parsers.re(rf"^{WHO} still has no tasks$"))
def has_no_tasks(cast: Cast, api: TaskHubClient, who: str) -> None:
    body = all_tasks(api, cast[who])
    assert body["total"] == 0, f"{body['total']} tasks exist: {body['items'][:3]}"


@then("the answer says when to try again, within a minute")
def retry_after(reply: httpx.Response) -> None:
    value = reply.headers.get("retry-after", "")
    assert value.isdigit(), f"no Retry-After in seconds; {describe(reply)}"
    assert 1 <= int(value) <= RATE_LIMIT_WINDOW_SECONDS, f"Retry-After {value}"

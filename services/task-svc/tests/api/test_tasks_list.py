"""GET /tasks: visibility, filters, repeatable parameters, ordering and paging."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from taskhub_common.auth import Role

CreateTask = Callable[..., Awaitable[dict[str, Any]]]
STATUSES = ["todo", "in_progress", "done", "canceled"]


@pytest.fixture
async def two_users_with_100_tasks(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> dict[str, Any]:
    """Alice owns 50 tasks, Bob 50; every 5th of Alice's is assigned to Bob.

    Task i of a user: status STATUSES[i % 4], tag "even"/"odd", tag "five" when i % 5 == 0,
    due on day 1 + i of January 2031 (no due date when i % 10 == 9).
    """
    alice, bob = make_user(), make_user()
    tasks: dict[str, list[dict[str, Any]]] = {"alice": [], "bob": []}
    for name, owner in (("alice", alice), ("bob", bob)):
        for i in range(50):
            fields: dict[str, Any] = {
                "title": f"{name} {i}",
                "status": STATUSES[i % 4],
                "tags": ["even" if i % 2 == 0 else "odd", *(["five"] if i % 5 == 0 else [])],
                "due_at": None if i % 10 == 9 else f"2031-01-{1 + i % 28:02d}T09:00:00Z",
            }
            if name == "alice" and i % 5 == 0:
                fields["assignee_id"] = str(bob.id)
            tasks[name].append(await create_task(owner, **fields))
    return {"alice": alice, "bob": bob, "tasks": tasks}


def _newest_first(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The documented order; in a test all rows share one transaction's created_at.
    return sorted(tasks, key=lambda t: (t["created_at"], t["id"]), reverse=True)


async def _all_pages(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    page, total = 1, 0
    while True:
        response = await client.get(
            "/tasks", params={**params, "page": page, "limit": 7}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        total = body["total"]
        if not body["items"]:
            return items, total
        items.extend(body["items"])
        page += 1


async def test_each_user_sees_owned_and_assigned_tasks_newest_first(
    client: httpx.AsyncClient, two_users_with_100_tasks: dict[str, Any]
) -> None:
    data = two_users_with_100_tasks
    alice_page = (await client.get("/tasks?limit=100", headers=data["alice"].headers)).json()
    bob_items, bob_total = await _all_pages(client, data["bob"].headers, {})

    assert alice_page["total"] == 50
    assert alice_page["items"] == _newest_first(data["tasks"]["alice"])
    assert bob_total == 60  # 50 own + 10 assigned by Alice
    assert len(bob_items) == 60
    assert len({t["id"] for t in bob_items}) == 60
    created = [(t["created_at"], t["id"]) for t in bob_items]
    assert created == sorted(created, reverse=True)


async def test_page_boundaries(
    client: httpx.AsyncClient, two_users_with_100_tasks: dict[str, Any]
) -> None:
    headers = two_users_with_100_tasks["alice"].headers
    first = (await client.get("/tasks?page=1&limit=20", headers=headers)).json()
    third = (await client.get("/tasks?page=3&limit=20", headers=headers)).json()
    beyond = (await client.get("/tasks?page=4&limit=20", headers=headers)).json()
    default = (await client.get("/tasks", headers=headers)).json()

    assert (first["page"], first["limit"], first["total"]) == (1, 20, 50)
    assert third["items"] == _newest_first(two_users_with_100_tasks["tasks"]["alice"])[40:]
    assert beyond == {"items": [], "total": 50, "page": 4, "limit": 20}
    assert default["items"] == first["items"]


# (query parameters, which of a user's tasks i = 0..49 match); the fixture's docstring
# says what task i looks like. One fixture build serves every case: building it is slow.
FILTER_CASES: list[tuple[dict[str, Any], Callable[[int], bool]]] = [
    ({"status": "done"}, lambda i: i % 4 == 2),
    ({"status": ["todo", "canceled"]}, lambda i: i % 4 in (0, 3)),
    ({"tag": "five"}, lambda i: i % 5 == 0),
    ({"tag": ["EVEN ", "five"]}, lambda i: i % 10 == 0),
    ({"tag": ["even", "odd"]}, lambda i: False),
    ({"tag": "missing"}, lambda i: False),
    ({"due_before": "2031-01-05T09:00:00Z"}, lambda i: i % 10 != 9 and i % 28 < 4),
    (
        {"due_after": "2031-01-20T00:00:00+00:00", "status": "todo"},
        lambda i: i % 10 != 9 and i % 28 >= 19 and i % 4 == 0,
    ),
    (
        {"due_after": "2031-01-03T09:00:00Z", "due_before": "2031-01-06T09:00:00Z"},
        lambda i: i % 10 != 9 and 2 < i % 28 < 5,
    ),
]


async def test_filters(client: httpx.AsyncClient, two_users_with_100_tasks: dict[str, Any]) -> None:
    headers = two_users_with_100_tasks["alice"].headers
    for params, expected in FILTER_CASES:
        items, total = await _all_pages(client, headers, params)

        want = {f"alice {i}" for i in range(50) if expected(i)}
        assert {t["title"] for t in items} == want, params
        assert total == len(want), params


async def test_assignee_filter(
    client: httpx.AsyncClient, two_users_with_100_tasks: dict[str, Any]
) -> None:
    data = two_users_with_100_tasks
    params = {"assignee_id": str(data["bob"].id)}
    as_alice, alice_total = await _all_pages(client, data["alice"].headers, params)
    as_bob, _ = await _all_pages(client, data["bob"].headers, params)

    assert alice_total == 10
    assert {t["title"] for t in as_alice} == {f"alice {i}" for i in range(0, 50, 5)}
    assert {t["id"] for t in as_bob} == {t["id"] for t in as_alice}


async def test_admin_sees_every_users_tasks(
    client: httpx.AsyncClient,
    two_users_with_100_tasks: dict[str, Any],
    make_user: Callable[..., Any],
) -> None:
    admin = make_user(Role.ADMIN)
    data = two_users_with_100_tasks
    params = {"tag": "five"}
    items, total = await _all_pages(client, admin.headers, params)

    ours = {
        t["id"] for name in ("alice", "bob") for t in data["tasks"][name] if "five" in t["tags"]
    }
    assert ours <= {t["id"] for t in items}
    assert total >= 20


async def test_a_stranger_sees_nothing(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice, mallory = make_user(), make_user()
    await create_task(alice)
    body = (await client.get("/tasks", headers=mallory.headers)).json()
    assert body == {"items": [], "total": 0, "page": 1, "limit": 20}


async def test_unknown_assignee_filter_matches_nothing(
    client: httpx.AsyncClient, make_user: Callable[..., Any], create_task: CreateTask
) -> None:
    alice = make_user()
    await create_task(alice)
    params = {"assignee_id": str(uuid.uuid4())}
    body = (await client.get("/tasks", params=params, headers=alice.headers)).json()
    assert body["total"] == 0
